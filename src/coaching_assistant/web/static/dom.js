// Building the page from data. Text is always set as text (a Text node or textContent), never
// parsed as HTML, so a title or a transcript line that holds markup shows exactly as typed.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "multiple", "open", "indeterminate"]);
const SVG = "http://www.w3.org/2000/svg";

const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "xlink:href"]);

/** A URL attribute may only point into this server: "/path", "?query" or "#fragment" (no "//host",
 * no "/\\host", and no blanks or control characters, which a browser drops before parsing). */
function checkedUrl(key, value) {
  const url = String(value);
  if (/[\u0000-\u0020\u007f]/.test(url) || !/^([/?#](?![/\\])|$)/.test(url)) {
    throw new Error(`${key} must be a path on this server, not ${JSON.stringify(url)}`);
  }
  return url;
}

function build(element, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value !== "function") throw new Error(`${key} must be a function`);
      element.addEventListener(key.slice(2).toLowerCase(), value);
    }
    else if (key === "class") element.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (PROPERTIES.has(key)) element[key] = value;
    else if (URL_ATTRIBUTES.has(key)) element.setAttribute(key, checkedUrl(key, value));
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** h("button", {class: "primary", onclick: save}, "Save") */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, for charts drawn by our own code. */
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG, tag), props, children);
}

export function append(element, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replace everything inside `element` with `children`. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** A labelled form field: <label>Text <input …></label>, so the label names the control. */
export function field(labelText, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, labelText), control,
    hint ? h("span", { class: "hint" }, hint) : null);
}
