export { createClassifierServer, type ClassifierServer } from "./classifier-server.js";
export { createClassifierService, type ClassifierServiceDeps } from "./classifier-service.js";
export { compileTierPolicy, type Classification, type Classify } from "./tier-policy.js";
export { promptFeatures, type PromptFeatures } from "./prompt-features.js";
