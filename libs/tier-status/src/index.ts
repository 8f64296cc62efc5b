export { subjects, type Subjects } from "./subjects.js";
export { NatsLink, type NatsLinkOptions } from "./nats-link.js";
export { decodeOutcomes, decodeStatus, encodeOutcomes, encodeStatus } from "./status-codec.js";
export { openStatusBucket, readStatuses } from "./status-bucket.js";
export { TierStatusFeed, type TierStatusFeedOptions } from "./status-feed.js";
export { OutcomeReporter, tracedOutcomes, type OutcomeInit, type OutcomeReporterOptions } from "./outcome-reporter.js";
export { isSampled, senderOf, startProcess, startSend } from "./message-tracing.js";
