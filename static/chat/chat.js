// Warmline chat widget: chooses the conversation token, opens the socket, and the few behaviours htmx does
// not cover (send on Enter, keep the newest message in view, end the chat). No inline scripts (CSP).
(function () {
  "use strict";
  var chat = document.getElementById("chat");
  if (!chat) return;

  // --- the conversation token: a reload in this tab continues the same conversation -----------------------
  // Runs before htmx processes the page (this script is deferred after htmx's), so the socket opens with it.
  var key = chat.getAttribute("data-storage-key");
  var fresh = chat.getAttribute("data-token");
  var stored = null;
  try { stored = sessionStorage.getItem(key); } catch (e) { /* storage off: one page, one chat */ }
  var token = stored || fresh;
  function remember(value) { try { if (value) sessionStorage.setItem(key, value); else sessionStorage.removeItem(key); } catch (e) {} }
  remember(token);
  chat.setAttribute("hx-ext", "ws");
  chat.setAttribute("ws-connect", chat.getAttribute("data-socket") + "?token=" + encodeURIComponent(token));

  // --- the connection ---------------------------------------------------------------------------------------
  var BAD_TOKEN = 4401, ENDED = 4000;
  function live(state) {
    var pill = document.getElementById("live");
    chat.setAttribute("data-live", state);
    if (!pill) return;
    pill.setAttribute("data-state", state);
    var text = pill.getAttribute("data-" + state);
    if (text) pill.textContent = text;
  }
  document.addEventListener("htmx:wsOpen", function () { live("open"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (code === BAD_TOKEN && token !== fresh) {
      // The saved conversation has expired: start a new one with this page's token.
      remember(fresh);
      window.location.reload();
      return;
    }
    if (code === ENDED) remember(null);
    live(code === ENDED ? "ended" : code >= 4000 ? "refused" : "reconnecting");
  });

  // --- the log: newest in view, one copy of each line ---------------------------------------------------------
  function settle() {
    var lines = document.getElementById("chat-lines");
    if (!lines) return;
    var seen = {};
    Array.prototype.slice.call(lines.children).forEach(function (line) {
      if (line.id && seen[line.id]) line.remove();
      else if (line.id) seen[line.id] = true;
    });
    var log = document.getElementById("chat-log");
    if (log) log.scrollTop = log.scrollHeight;
  }
  document.addEventListener("htmx:wsAfterMessage", settle);
  document.addEventListener("DOMContentLoaded", settle);

  // --- the composer: Enter sends, Shift+Enter breaks the line, the box grows with the text ------------------
  function grow(box) {
    box.style.height = "auto";
    box.style.height = Math.min(box.scrollHeight, 160) + "px";
  }
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (box.id !== "chat-text" || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    if (box.value.trim() && box.form) box.form.requestSubmit();
  });
  document.addEventListener("input", function (event) { if (event.target.id === "chat-text") grow(event.target); });
  document.addEventListener("htmx:wsAfterSend", function (event) {
    var form = event.target.closest ? event.target.closest("#composer") : null;
    if (form && form.tagName === "FORM") {
      form.reset();
      var box = document.getElementById("chat-text");
      if (box) { grow(box); box.focus(); }
    }
    var star = event.target.closest ? event.target.closest(".stars") : null;
    if (star) star.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
  });

  // --- ending the chat (two steps), and starting a new one ----------------------------------------------------
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    var confirm = document.getElementById("end-confirm");
    var ask = document.querySelector("[data-end-ask]");
    if (target.closest("[data-end-ask]") && confirm) {
      confirm.hidden = false;
      ask.setAttribute("aria-expanded", "true");
      ask.hidden = true;
      var yes = confirm.querySelector("[data-end-yes]");
      if (yes) yes.focus();
    } else if (target.closest("[data-end-no]") && confirm) {
      confirm.hidden = true;
      ask.hidden = false;
      ask.setAttribute("aria-expanded", "false");
      ask.focus();
    } else if (target.closest("[data-end-yes]")) {
      remember(null);
      if (confirm) confirm.hidden = true;
    } else if (target.closest("[data-new-chat]")) {
      remember(null);
      window.location.reload();
    }
  });
})();
