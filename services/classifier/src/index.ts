export { createClassifierServer, type ClassifierServer } from "./classifier-server.js";
export { createClassifierService, type ClassifierServiceDeps } from "./classifier-service.js";
export {
  compileTierPolicy,
  type Classification,
  type Classify,
  type Explain,
  type RuleTrace,
} from "./tier-policy.js";
export { promptFeatures, type PromptFeatures } from "./prompt-features.js";
export { TokenCounter, type TokenCount } from "./token-counter.js";
