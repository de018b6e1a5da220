// Role names for the interface chrome (the transcript's own labels come from the API, in the
// session's language: 教練/客戶 for Chinese sessions).
import { strings } from "./i18n.js";

const t = strings({
  en: { coach: "Coach", client: "Client", unknown: "Unknown" },
  "zh-TW": { coach: "教練", client: "客戶", unknown: "未定" },
});

export const ROLES = ["coach", "client", "unknown"];
export const roleName = (role) => t(ROLES.includes(role) ? role : "unknown");
