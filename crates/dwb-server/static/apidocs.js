// Renders /api/v2/openapi.json as a readable list of operations, grouped by
// tag. Everything is local: no asset is loaded from the internet.
"use strict";
(function () {
  var root = document.getElementById("apidocs");
  if (!root) return;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function resolve(spec, s) {
    if (s && s.$ref) {
      var parts = s.$ref.replace(/^#\//, "").split("/");
      var cur = spec;
      parts.forEach(function (p) { cur = cur && cur[p]; });
      return cur || {};
    }
    return s || {};
  }
  function schemaText(spec, s, depth) {
    s = resolve(spec, s);
    if (depth > 3) return "…";
    if (s.type === "array" || (Array.isArray(s.type) && s.type.indexOf("array") >= 0)) {
      return "[" + schemaText(spec, s.items, depth + 1) + "]";
    }
    if (s.properties) {
      var keys = Object.keys(s.properties);
      return "{ " + keys.map(function (k) {
        var p = resolve(spec, s.properties[k]);
        var t = p.type ? (Array.isArray(p.type) ? p.type.join("|") : p.type) : (p.properties ? "object" : "");
        return k + (t ? ": " + t : "");
      }).join(", ") + " }";
    }
    if (s.oneOf) return s.oneOf.map(function (o) { return schemaText(spec, o, depth + 1); }).join(" | ");
    return Array.isArray(s.type) ? s.type.join("|") : (s.type || "object");
  }
  fetch(root.getAttribute("data-spec")).then(function (r) { return r.json(); }).then(function (spec) {
    root.textContent = "";
    var byTag = {};
    Object.keys(spec.paths).forEach(function (path) {
      Object.keys(spec.paths[path]).forEach(function (method) {
        var op = spec.paths[path][method];
        var tag = (op.tags && op.tags[0]) || "Other";
        (byTag[tag] = byTag[tag] || []).push({ path: path, method: method, op: op });
      });
    });
    var toc = document.getElementById("toc");
    var order = (spec.tags || []).map(function (t) { return t.name; });
    Object.keys(byTag).forEach(function (t) { if (order.indexOf(t) < 0) order.push(t); });
    order.filter(function (t) { return byTag[t]; }).forEach(function (tag) {
      var id = "tag-" + tag.replace(/[^A-Za-z0-9]+/g, "-");
      if (toc) { var a = el("a", "", tag); a.href = "#" + id; toc.appendChild(a); toc.appendChild(document.createTextNode(" ")); }
      var sec = el("section", "card");
      sec.id = id;
      sec.appendChild(el("h2", "", tag));
      byTag[tag].forEach(function (o) {
        var div = el("div", "op");
        var h = el("h3", "");
        h.appendChild(el("span", "method " + o.method, o.method.toUpperCase()));
        h.appendChild(el("code", "", " " + o.path));
        div.appendChild(h);
        if (o.op.summary) div.appendChild(el("p", "", o.op.summary));
        if (o.op.requestBody) {
          var c = o.op.requestBody.content || {};
          var ct = Object.keys(c)[0];
          if (ct) div.appendChild(el("p", "muted", "Body (" + ct + "): " + schemaText(spec, c[ct].schema, 0)));
        }
        var ul = el("ul", "responses");
        Object.keys(o.op.responses || {}).forEach(function (code) {
          var resp = o.op.responses[code];
          var c = resp.content && resp.content["application/json"];
          ul.appendChild(el("li", "", code + " " + (resp.description || "") + (c ? " → " + schemaText(spec, c.schema, 0) : "")));
        });
        div.appendChild(ul);
        sec.appendChild(div);
      });
      root.appendChild(sec);
    });
    if (location.hash) { var target = document.getElementById(location.hash.slice(1)); if (target) target.scrollIntoView(); }
  }).catch(function (e) { root.textContent = "Cannot load the API description: " + e; });
})();
