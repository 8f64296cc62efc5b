export { createRouterServer, type RouterServer } from "./router-server.js";
export { RouterCore, type RouteCall, type RouterCoreDeps, type StreamEvent } from "./router-core.js";
export { createRouterService } from "./router-service.js";
export { createOpenAIEdge } from "./openai-edge.js";
export { ApiKeyAuth } from "./api-key-auth.js";
export { planRoute, type RouteInput, type RoutePlan } from "./route-plan.js";
export { TierStatusTable, type TierStatusView } from "./tier-status-table.js";
