// The interface language: the one the server chose for the page (<html lang>, from the language
// switch's cookie or the browser's Accept-Language). Each module keeps its own strings:
//   const t = strings({ en: { hello: "Hello {name}" }, "zh-TW": { hello: "{name} 您好" } });

export const LANGUAGES = { en: "English", "zh-TW": "繁體中文" };
export const lang = document.documentElement.lang === "zh-TW" ? "zh-TW" : "en";

export function strings(table) {
  const own = table[lang] ?? {};
  return (key, vars = {}) => {
    const text = own[key] ?? table.en[key];
    if (text === undefined) throw new Error(`no string ${key}`);
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
}

export function setLanguage(code) {
  document.cookie = `ca_lang=${encodeURIComponent(code)}; path=/; max-age=31536000; samesite=lax`;
  location.reload();
}

const dateFormat = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const numberFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });

export const formatDate = (iso) => dateFormat.format(new Date(iso));
const languageNames = new Intl.DisplayNames([lang], { type: "language" });
/** "zh-TW" -> "Chinese (Taiwan)" / "中文（台灣）"; a tag the browser cannot name, as it is. */
export function languageName(tag) {
  try { return languageNames.of(tag) ?? tag; } catch { return tag; }
}
export const formatNumber = (value) => numberFormat.format(value);

/** 75.4 -> "1:15", 3725 -> "1:02:05" */
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds ?? 0));
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** Bytes for people: 1536 -> "1.5 KB" */
export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${formatNumber(value)} ${units[unit]}`;
}
