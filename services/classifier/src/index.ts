export { createClassifierServer, type ClassifierServer } from "./classifier-server.js";
export { createClassifierService, type ClassifierServiceDeps } from "./classifier-service.js";
export { PublishedPolicy, type PolicyRelease } from "./published-policy.js";
