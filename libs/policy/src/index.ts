export {
  compileTierPolicy,
  type Classification,
  type Classify,
  type Explain,
  type RuleTrace,
} from "./tier-policy.js";
export { decodePolicy, encodePolicy, policyDocument, policyDocumentSchema, type PolicyDocument, type PolicyEncoding } from "./policy-document.js";
export { promptFeatures, type PromptFeatures } from "./prompt-features.js";
export { TokenCounter, type TokenCount } from "./token-counter.js";
