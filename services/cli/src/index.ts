export { launchMesh, type Mesh, type MeshOptions } from "./mesh-launcher.js";
