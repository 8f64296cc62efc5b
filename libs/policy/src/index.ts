export {
  compileTierPolicy,
  type Classification,
  type Classify,
  type CompiledPolicy,
  type Explain,
  type ListModels,
  type RuleTrace,
} from "./tier-policy.js";
export { AUTO_MODEL, ModelCatalog, TIERMESH_OWNER, type ModelEntry } from "./model-catalog.js";
export {
  decodePolicy,
  encodePolicy,
  policyDocument,
  policyDocumentSchema,
  type PolicyDocument,
  type PolicyEncoding,
} from "./policy-document.js";
export { o200k, o200kLoaded } from "./o200k.js";
export { promptFeatures, PromptSize, type PromptFeatures } from "./prompt-features.js";
export { TokenCounter, type TokenCount } from "./token-counter.js";
