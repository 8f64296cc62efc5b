export { planPromise, planPromises, type PlanPromise } from "./plan-promise.js";
export type { ModelPromise, TierMove, TierPromise } from "./tier-promise.js";
export type { RulePromise } from "./rule-promise.js";
export { planSheet, type PlanSheetOptions } from "./plan-sheet.js";
export type { SheetBlock } from "./sheet-blocks.js";
export { escapeMarkdown, renderMarkdown } from "./sheet-markdown.js";
export { escapeHtml, renderHtml } from "./sheet-html.js";
export { configDiff, renderDiff, type DiffSection } from "./config-diff.js";
export { promiseFacts, factChanges, type FactChange } from "./promise-facts.js";
