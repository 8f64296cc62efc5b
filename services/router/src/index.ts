export { createRouterServer, type RouterServer } from "./router-server.js";
export { createRouterService, type RouterServiceDeps } from "./router-service.js";
export { ApiKeyAuth } from "./api-key-auth.js";
export { planRoute, type RouteInput, type RoutePlan } from "./route-plan.js";
export { TierStatusTable, type TierStatusView } from "./tier-status-table.js";
