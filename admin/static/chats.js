// Keeps chat status, last agent, summary and tags current without a reload.
// Progressive enhancement: every page works without this script; it only refreshes text.
(function () {
  "use strict";
  var root = document.querySelector("[data-poll-url]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-poll-url");
  var seconds = parseInt(root.getAttribute("data-poll-seconds"), 10) || 5;
  var newest = parseInt(root.getAttribute("data-newest-id") || "0", 10);

  function items() {
    var nodes = document.querySelectorAll("[data-chat-id]");
    var byId = {};
    for (var i = 0; i < nodes.length; i++) {
      byId[nodes[i].getAttribute("data-chat-id")] = nodes[i];
    }
    return byId;
  }

  function setText(el, role, text) {
    var target = el.querySelector('[data-role="' + role + '"]');
    if (target && text !== undefined && text !== null && text !== "" && target.textContent !== text) {
      target.textContent = text;
    }
  }

  function setTags(el, tags) {
    var list = el.querySelector('[data-role="tags"]');
    if (!list) { return; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    tags.forEach(function (tag) {
      var li = document.createElement("li");
      li.textContent = tag;
      list.appendChild(li);
    });
  }

  function apply(el, info) {
    var badge = el.querySelector('[data-role="status"]');
    if (badge) {
      badge.textContent = info.label;
      badge.className = "badge status-" + info.status;
    }
    if (el.classList.contains("card")) {
      el.className = "card status-" + info.status;
    }
    setText(el, "last-agent", info.last_agent);
    setText(el, "summary", info.summary);
    setTags(el, info.tags || []);
    var actions = el.querySelector('[data-role="actions"]');
    if (actions) { actions.hidden = info.status === "in_arbeit"; }
  }

  function poll() {
    var byId = items();
    var ids = Object.keys(byId);
    fetch(url + "?ids=" + ids.join(","), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        ids.forEach(function (id) { if (data.chats[id]) { apply(byId[id], data.chats[id]); } });
        var notice = document.querySelector('[data-role="new-chats"]');
        if (notice && newest && data.newest_id > newest) { notice.hidden = false; }
      })
      .catch(function () { /* next tick tries again */ })
      .then(function () { window.setTimeout(poll, seconds * 1000); });
  }
  window.setTimeout(poll, seconds * 1000);
}());
