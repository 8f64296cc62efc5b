// The protocol of tiermesh, generated from proto/ by buf + protoc-gen-es. Do not edit src/gen.
export * from "./gen/tiermesh/common/v1/completion_pb.js";
export * from "./gen/tiermesh/common/v1/tier_state_pb.js";
export * from "./gen/tiermesh/router/v1/router_pb.js";
export * from "./gen/tiermesh/router/v1/jobs_pb.js";
export * from "./gen/tiermesh/classifier/v1/classifier_pb.js";
export * from "./gen/tiermesh/executor/v1/executor_pb.js";
export * from "./gen/tiermesh/health/v1/outcome_pb.js";
export * from "./gen/tiermesh/health/v1/tier_status_pb.js";
export * from "./gen/tiermesh/health/v1/health_monitor_pb.js";
export * from "./gen/tiermesh/launcher/v1/launcher_pb.js";
export * from "./gen/tiermesh/limits/v1/usage_pb.js";
export * from "./gen/tiermesh/ledger/v1/usage_pb.js";
export * from "./gen/tiermesh/ledger/v1/report_pb.js";
export * from "./gen/grpc/health/v1/health_pb.js";
// Both reflection versions name their messages alike, so each stays in its own namespace.
export * as reflectionV1 from "./gen/grpc/reflection/v1/reflection_pb.js";
export * as reflectionV1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export {
  ATTEMPTS_HEADER,
  BUDGET_EXHAUSTED,
  CONTEXT_LENGTH_EXCEEDED,
  DEPLOYMENT_COOLING,
  MODEL_NOT_FOUND,
  ERROR_REASON_HEADER,
  PROMPT_TOO_LARGE,
  PROVIDER_RATE_LIMITED,
  RATE_LIMIT_HEADER,
  TENANT_RATE_LIMITED,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
  retryAfterMsOf,
} from "./error-reasons.js";
