// Guideline editor: append a YAML question template to the rubric, then ask htmx to
// refresh the preview. Kept in a file because the CSP forbids inline scripts.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-gl-snippet]");
  if (!button) return;
  const form = button.closest("form");
  const template = document.getElementById(`gl-snippet-${button.dataset.glSnippet}`);
  const textarea = form && form.querySelector("textarea[name=rubric_text]");
  if (!template || !textarea) return;
  const format = form.querySelector("select[name=rubric_format]");
  if (format && format.value === "json") {
    // The templates are YAML; JSON rubrics are edited by hand.
    format.value = "yaml";
    if (textarea.value.trim().startsWith("[")) return;
  }
  const current = textarea.value.replace(/\s+$/, "");
  textarea.value = (current ? current + "\n" : "") + template.content.textContent;
  textarea.focus();
  form.dispatchEvent(new CustomEvent("gl-snippet", { bubbles: true }));
});
