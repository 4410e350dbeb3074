// The status page follows its submission through the JSON API and reloads once the grading has ended,
// so the result, the failures and the report are rendered by the server.
(function () {
  const card = document.getElementById("status");
  if (!card) return;
  const id = card.dataset.id;
  const word = document.getElementById("status-word");
  const detail = document.getElementById("status-detail");
  const reason = document.getElementById("status-reason");
  async function poll() {
    try {
      const response = await fetch("/api/submissions/" + encodeURIComponent(id), {credentials: "same-origin"});
      if (response.status === 401 || response.status === 404) { window.location.reload(); return; }  // signed out
      if (response.ok) {
        const s = await response.json();
        if (["graded", "invalid", "error"].includes(s.status)) { window.location.reload(); return; }
        word.textContent = s.status;
        word.className = "status " + s.status;
        detail.textContent = s.status === "queued" ? "place " + s.position + " in the queue"
          : (s.phase || "starting") + " · " + Math.round(s.elapsed_s || 0) + " s";
        reason.textContent = s.reason;
        card.dataset.status = s.status;
      }
    } catch (e) { /* the server restarts: keep asking */ }
    setTimeout(poll, 1500);
  }
  setTimeout(poll, 1000);
})();
