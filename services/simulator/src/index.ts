export {
  modelProfileSchema,
  simulatorConfigSchema,
  type ModelProfile,
  type SimulatorConfig,
} from "./simulator-config.js";
export { completionTokens } from "./completion-plan.js";
export { createSimulator } from "./simulator-server.js";
