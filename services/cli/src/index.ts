export { launchMesh, serviceMallocEnv, serviceNodeArgs, type Mesh, type MeshOptions } from "./mesh-launcher.js";
