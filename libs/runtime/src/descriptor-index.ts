import { toBinary, type DescEnum, type DescFile, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * The protobuf schema behind a set of services, indexed the way gRPC server reflection asks
 * for it: service names, files by name, the file declaring a symbol, extensions by extendee.
 * Built from the descriptors the generated code embeds, so it always matches what is served.
 */
export class DescriptorIndex {
  readonly serviceNames: readonly string[];
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  /** Extendee type name → field number → file declaring the extension. */
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(services: Iterable<DescService>) {
    const names = new Set<string>();
    for (const service of services) {
      names.add(service.typeName);
      this.addFile(service.file);
    }
    this.serviceNames = [...names].sort();
  }

  /** A file by its path as imported, e.g. "tiermesh/router/v1/router.proto". */
  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  /** The file declaring a fully-qualified symbol: type, service, method, field, oneof or enum value. */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  fileContainingExtension(extendee: string, number: number): DescFile | undefined {
    return this.extensions.get(extendee)?.get(number);
  }

  /** Field numbers of the known extensions of a message type; undefined for an unknown type. */
  extensionNumbersOf(extendee: string): number[] | undefined {
    if (!this.symbols.has(extendee)) return undefined;
    return [...(this.extensions.get(extendee)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * The file's serialized FileDescriptorProto, then those of its transitive dependencies that
   * `sent` does not hold yet; every file returned is added to `sent`. The file asked for is
   * always included, so a client can ask again for what it lost.
   */
  encodeWithDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const queue = [file];
    for (let next = queue.shift(); next; next = queue.shift()) {
      const name = next.proto.name;
      if (out.length > 0 && sent.has(name)) continue;
      sent.add(name);
      out.push(this.encode(next));
      queue.push(...next.dependencies.filter((d) => !sent.has(d.proto.name)));
    }
    return out;
  }

  private encode(file: DescFile): Uint8Array {
    let bytes = this.encoded.get(file.proto.name);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.encoded.set(file.proto.name, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) return;
    this.files.set(file.proto.name, file);
    for (const message of file.messages) this.addMessage(file, message);
    for (const e of file.enums) this.addEnum(file, e);
    for (const service of file.services) {
      this.symbols.set(service.typeName, file);
      for (const method of service.methods) this.symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const ext of file.extensions) this.addExtension(file, ext.typeName, ext.extendee.typeName, ext.number);
    for (const dependency of file.dependencies) this.addFile(dependency);
  }

  private addMessage(file: DescFile, message: DescMessage): void {
    this.symbols.set(message.typeName, file);
    for (const field of message.fields) this.symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(file, nested);
    for (const e of message.nestedEnums) this.addEnum(file, e);
    for (const ext of message.nestedExtensions) this.addExtension(file, ext.typeName, ext.extendee.typeName, ext.number);
  }

  private addEnum(file: DescFile, e: DescEnum): void {
    this.symbols.set(e.typeName, file);
    // Enum values are scoped beside their enum, not inside it (C++ scoping rules).
    const scope = e.typeName.slice(0, e.typeName.length - e.name.length);
    for (const value of e.values) this.symbols.set(`${scope}${value.name}`, file);
  }

  private addExtension(file: DescFile, typeName: string, extendee: string, number: number): void {
    this.symbols.set(typeName, file);
    let byNumber = this.extensions.get(extendee);
    if (!byNumber) {
      byNumber = new Map();
      this.extensions.set(extendee, byNumber);
    }
    byNumber.set(number, file);
  }
}
