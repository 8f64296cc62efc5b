export {
  modelProfileSchema,
  simulatorConfigSchema,
  type ModelProfile,
  type SimulatorConfig,
} from "./simulator-config.js";
export { createSimulator } from "./simulator-server.js";
