// The CLI's tables and number formats live beside the reports that also use them.
export { renderTable, formatCount, formatBytes, formatMacs } from '../explore/format.js';
