// ipywidgets' static embedder typesets widget labels with MathJax 2's API,
// MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads MathJax 3.
// Give MathJax 3 that one call. Labels drawn before MathJax has started wait in a
// list; MathJax 3 replaces the configuration object when it starts, so startup.ready
// puts the call back on the real object and typesets what waited.
(function () {
  const waiting = [];
  const typeset = (elements) =>
    window.MathJax.startup.promise.then(() => window.MathJax.typesetPromise(elements));
  const hub = {
    Queue: function (...jobs) {
      const elements = jobs.filter(Array.isArray).map((job) => job[2]).filter(Boolean);
      if (window.MathJax && window.MathJax.typesetPromise) typeset(elements);
      else waiting.push(...elements);
    },
  };
  const config = (window.MathJax = window.MathJax || {});
  config.Hub = hub;
  config.startup = config.startup || {};
  const ready = config.startup.ready;
  config.startup.ready = function () {
    if (ready) ready();
    else window.MathJax.startup.defaultReady();
    window.MathJax.Hub = hub;
    if (waiting.length) typeset(waiting.splice(0));
  };
})();
