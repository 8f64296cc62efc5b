/**
 * A stable number in [0, 1) for a user key, for progressive return by share of users:
 * FNV-1a over the key, then murmur3's finaliser so similar keys ("user-1", "user-2")
 * spread evenly.
 */
export function userFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}
