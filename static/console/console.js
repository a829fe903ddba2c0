// Warmline console: the little behaviour htmx does not cover. No inline scripts anywhere (CSP).
(function () {
  "use strict";

  // Conflicts (409) and invalid input (422) carry a readable message to show in place; other errors do not swap.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(403|409|422)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  });

  // --- time: waiting clocks tick, preparation counts down -------------------------------------------
  function formatWait(seconds) {
    if (seconds < 60) return seconds + "s";
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "m " + String(seconds % 60).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }

  var refreshed = {};
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(since)) el.textContent = formatWait(Math.max(0, Math.round((now - since) / 1000)));
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      if (isNaN(until)) return;
      var left = Math.max(0, Math.ceil((until - now) / 1000));
      var out = el.querySelector(".seconds");
      if (out) out.textContent = left + "s";
      el.classList.toggle("ending", left <= 10);
      // The server connects at zero by itself (a timer and a sweep); this fetch is only a fallback that
      // also refreshes the panel if the live socket happens to be down.
      var url = el.getAttribute("data-refresh");
      if (left === 0 && url && !refreshed[url] && window.htmx) {
        refreshed[url] = true;
        setTimeout(function () {
          if (document.querySelector("[data-until]")) htmx.ajax("GET", url, { target: "#state", swap: "outerHTML" });
        }, 2500);
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  // A swapped-in panel (a live state push, a resync) starts from the server's numbers: tick at once.
  document.addEventListener("htmx:oobAfterSwap", tick);
  document.addEventListener("htmx:afterSwap", tick);

  // --- a warm transfer's page reloads itself when the transfer moves on ------------------------------
  // (taken over, completed by its timer: the composer, notes and actions change with it). The mode is
  // "<can write><overlap window><transfer pending><notes>"; only a change in or out of a transfer counts,
  // so the agent's own resolve or return (which redirect) never races a reload.
  function inTransfer(mode) { return mode.charAt(1) === "1" || mode.charAt(2) === "1"; }
  function reloadIfModeChanged() {
    var page = document.querySelector("[data-page-mode]");
    var state = document.getElementById("state");
    if (!page || !state || !state.hasAttribute("data-mode")) return;
    var was = page.getAttribute("data-page-mode");
    var now = state.getAttribute("data-mode");
    if (now === "withdrawn" || now === was) return;
    if (inTransfer(was) || inTransfer(now)) window.location.reload();
  }
  document.addEventListener("htmx:oobAfterSwap", reloadIfModeChanged);

  // A private note sent: clear the box (the note itself arrives over the socket, like the other side's).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target.closest && event.target.closest("form[data-reset-on-success]");
    if (form && event.detail.successful) form.reset();
  });

  // --- the live connection: a pill in the top bar (the browser tests read data-live too) -------------
  // The ws extension reconnects by itself after an abnormal close; the server resyncs on every connect.
  var RETRIED = [1006, 1011, 1012, 1013];
  function liveState(state, label) {
    document.documentElement.setAttribute("data-live", state);
    var pill = document.getElementById("live-status");
    if (!pill) return;
    pill.hidden = false;
    pill.setAttribute("data-state", state);
    pill.textContent = label;
  }
  document.addEventListener("htmx:wsConnecting", function () {
    if (document.documentElement.getAttribute("data-live") !== "closed") liveState("connecting", "Connecting…");
  });
  document.addEventListener("htmx:wsOpen", function () { liveState("open", "Live"); });
  document.addEventListener("htmx:wsClose", function (event) {
    var code = event.detail && event.detail.event ? event.detail.event.code : 0;
    if (RETRIED.indexOf(code) >= 0) liveState("closed", "Reconnecting…");
    else liveState("ended", "Not live: reload the page");
  });

  // --- the queue: keep rows in priority order, count them, announce new ones ------------------------
  var known = null;

  function settleQueue() {
    var list = document.getElementById("queue-list");
    if (!list) return;
    var seen = {};
    Array.prototype.slice.call(list.children).reverse().forEach(function (row) {
      if (seen[row.id]) row.remove(); // the newest copy wins if a push and a resync crossed
      seen[row.id] = true;
    });
    var rows = Array.prototype.slice.call(list.children);
    rows.sort(function (a, b) { return parseFloat(b.dataset.key) - parseFloat(a.dataset.key); });
    rows.forEach(function (row) { list.appendChild(row); });
    var count = document.getElementById("queue-count");
    if (count) count.textContent = String(rows.length);
    var empty = document.getElementById("queue-empty");
    if (empty) empty.hidden = rows.length > 0;
    var ids = rows.map(function (row) { return row.id; });
    if (known !== null) {
      var fresh = ids.filter(function (id) { return known.indexOf(id) === -1; });
      if (fresh.length) announce(document.getElementById(fresh[0]));
    }
    known = ids;
  }

  document.addEventListener("DOMContentLoaded", settleQueue);
  document.addEventListener("htmx:oobAfterSwap", settleQueue);
  document.addEventListener("htmx:wsAfterMessage", function () { settleQueue(); scrollChat(); });

  // --- notifications and sound: off by default, remembered per browser -------------------------------
  function enabled(name) { return localStorage.getItem("warmline." + name) === "on"; }

  function paintToggles() {
    document.querySelectorAll("[data-toggle]").forEach(function (button) {
      var name = button.getAttribute("data-toggle");
      var on = enabled(name);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = name === "notify" ? (on ? "Alerts on" : "Alerts off") : (on ? "Sound on" : "Sound off");
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-toggle]");
    if (!button) return;
    var name = button.getAttribute("data-toggle");
    var turnOn = !enabled(name);
    localStorage.setItem("warmline." + name, turnOn ? "on" : "off");
    if (turnOn && name === "notify" && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission();
    }
    paintToggles();
  });
  document.addEventListener("DOMContentLoaded", paintToggles);

  function announce(row) {
    if (!row) return;
    var who = row.querySelector(".qcustomer");
    var why = row.querySelector(".qreason");
    if (enabled("notify") && "Notification" in window && Notification.permission === "granted") {
      new Notification("New escalation: " + (who ? who.textContent.trim() : ""), { body: why ? why.textContent.trim() : "" });
    }
    if (enabled("sound")) chime();
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    var audio = new Context();
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  // --- chat: Enter sends, the opening line is one click away, the log follows new messages -----------
  function scrollChat() {
    var log = document.getElementById("chat-log");
    if (log) log.scrollTop = log.scrollHeight;
    var notes = document.getElementById("note-lines");
    if (notes) notes.scrollTop = notes.scrollHeight;
  }
  document.addEventListener("DOMContentLoaded", scrollChat);

  document.addEventListener("keydown", function (event) {
    var box = event.target.id;
    if ((box !== "message-text" && box !== "note-text") || event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    var form = event.target.form;
    if (form && event.target.value.trim()) form.requestSubmit();
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-use-opening]")) return;
    var opening = document.getElementById("opening-text");
    var box = document.getElementById("message-text");
    if (opening && box) {
      box.value = opening.value;
      box.focus();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target.id === "composer") {
      var box = document.getElementById("message-text");
      if (box) box.focus();
    }
  });
})();

// A suggested reply goes into the composer (editable), never straight to the customer.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-reply]");
  if (!button) return;
  var box = document.getElementById("message-text");
  if (box) {
    box.value = button.textContent.trim();
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true })); // re-run the draft check
  }
});
