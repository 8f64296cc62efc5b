import { randomBytes } from "node:crypto";
import { StorageType } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { keepMaxAge } from "./max-age.js";

/** What is known of a stored file. */
export interface StoredFile {
  id: string;
  tenant: string;
  bytes: number;
  /** Epoch seconds. */
  createdAt: number;
  filename: string;
  purpose: string;
}

const FILE_ID = /^file-[0-9a-z-]{8,80}$/;

export const isFileId = (id: string) => FILE_ID.test(id);

export const newFileId = () => `file-${randomBytes(12).toString("hex")}`;

/** Object name of a tenant's file: the tenant is part of it, so a tenant reaches only its own files. */
const objectName = (tenant: string, id: string) => `${tenant}/${id}`;

/**
 * Files (batch inputs, outputs and errors) in a JetStream object store (file storage,
 * chunked by the client), dropped `retentionMs` after they were written.
 */
export class FileStore {
  private constructor(private readonly os: ObjectStore) {}

  static async open(nc: NatsConnection, bucket: string, retentionMs: number): Promise<FileStore> {
    const os = await new Objm(nc).create(bucket, { storage: StorageType.File, ttl: nanos(retentionMs) });
    await keepMaxAge(nc, `OBJ_${bucket}`, retentionMs);
    return new FileStore(os);
  }

  async put(file: Omit<StoredFile, "bytes" | "createdAt">, data: Uint8Array): Promise<StoredFile> {
    const metadata = { filename: file.filename, purpose: file.purpose, created_at: String(Math.floor(Date.now() / 1_000)) };
    const info = await this.os.putBlob({ name: objectName(file.tenant, file.id), metadata }, data);
    return fileOf(file.tenant, file.id, info);
  }

  async info(tenant: string, id: string): Promise<StoredFile | undefined> {
    const info = await this.os.info(objectName(tenant, id));
    return info && !info.deleted ? fileOf(tenant, id, info) : undefined;
  }

  async content(tenant: string, id: string): Promise<Uint8Array | undefined> {
    return (await this.os.getBlob(objectName(tenant, id))) ?? undefined;
  }
}

function fileOf(tenant: string, id: string, info: ObjectInfo): StoredFile {
  const m = info.metadata ?? {};
  return {
    id,
    tenant,
    bytes: info.size,
    createdAt: Number(m["created_at"] ?? Math.floor(Date.parse(info.mtime) / 1_000)),
    filename: m["filename"] ?? id,
    purpose: m["purpose"] ?? "batch",
  };
}
