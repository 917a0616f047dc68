// Small behaviours shared by every page. No inline scripts anywhere: the CSP forbids them.
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target.closest("[data-upload-progress]");
  if (!form || !event.detail.lengthComputable) return;
  const bar = document.querySelector(form.dataset.uploadProgress);
  if (!bar) return;
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});

// htmx does not swap error responses (see the htmx-config meta in _base.html); when the
// server answers 429 or 503 (log-in blocked, job queue down) show its message instead of
// doing nothing.
document.addEventListener("htmx:responseError", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status !== 429 && xhr.status !== 503) return;
  const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
  const text = (doc.querySelector(".error-page p") || doc.body).textContent.trim();
  const main = document.querySelector("main");
  if (!main || !text) return;
  let box = document.getElementById("server-notice");
  if (!box) {
    box = document.createElement("p");
    box.id = "server-notice";
    box.className = "notice error";
    box.setAttribute("role", "alert");
    main.prepend(box);
  }
  box.textContent = text;
});
