export {
  asyncTiers,
  jobRetentionMs,
  JobStreamMissingError,
  openBatchRecords,
  openExistingJobBackend,
  openBatchStores,
  openFileStore,
  openJobBackend,
  type JobBackend,
} from "./job-backend.js";
export { FileStore, isFileId, newFileId, type StoredFile } from "./file-store.js";
export {
  bandConsumerName,
  consumerName,
  deadlineBand,
  isJobId,
  jobSubjects,
  newJobId,
  parseQueuePayload,
  type JobSubjects,
} from "./job-names.js";
export { JobQueue, type DeadLetter, type JobQueueOptions, type TierBacklog } from "./job-queue.js";
export { replayDeadLetters, type ReplayOutcome } from "./dead-letter-replay.js";
export { DeadlineConsumer, type JobSource, type TierConsumerOptions } from "./deadline-consumer.js";
export { isFinal, stateName } from "./job-states.js";
export { JobContentionError, JobStore } from "./job-store.js";
export { JsonRecords } from "./json-records.js";
export { BacklogSampler } from "./backlog-sampler.js";
export { registerBacklogMetrics } from "./backlog-metrics.js";
export {
  BATCH_EXPIRED,
  batchObject,
  batchRecordSchema,
  batchStatuses,
  isBatchId,
  newBatchId,
  type BatchRecord,
  type BatchStatus,
  type LineError,
} from "./batches/batch-record.js";
export { batchOutputs } from "./batches/batch-output.js";
export {
  batchCounts,
  expireOpenJobs,
  finishBatch,
  forBatchJobs,
  isOpenBatch,
  readBatchJobs,
  windowPassed,
  type BatchStores,
} from "./batches/batch-settle.js";
export { BatchFinaliser, type BatchFinaliserOptions } from "./batches/batch-finaliser.js";
export { completionBody, extensionOf, usageOf } from "./batches/chat-completion-body.js";
