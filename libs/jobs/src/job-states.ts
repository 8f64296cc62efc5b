import { JobState } from "@tiermesh/proto";

const FINAL: ReadonlySet<JobState> = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED]);

/** True once a job's state can no longer change (its result, if any, is the one visible). */
export const isFinal = (state: JobState) => FINAL.has(state);

/** Lowercase state names, as the API and metrics show them ("queued", "running", ...). */
export const stateName = (state: JobState) => (JobState[state] ?? "UNSPECIFIED").toLowerCase();
