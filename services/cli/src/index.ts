export { launchMesh, serviceNodeArgs, type Mesh, type MeshOptions } from "./mesh-launcher.js";
