import { describe, expect, it } from "vitest";
import { userOf } from "./traffic.js";

describe("userOf", () => {
  it("sends three requests in four with a user id, cycling over the users, and one without", () => {
    const seen = Array.from({ length: 12 }, (_, i) => userOf(i, 3, "d"));
    expect(seen).toEqual(["d-u0", "d-u1", "d-u2", "", "d-u0", "d-u1", "d-u2", "", "d-u0", "d-u1", "d-u2", ""]);
    expect(userOf(0, 20, "d")).toBe("d-u00");
  });
});
