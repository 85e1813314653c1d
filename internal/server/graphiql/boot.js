// Starts GraphiQL on chatty's page. Loaded after react, react-dom and graphiql
// (all deferred, so they run in order); no inline script, the CSP forbids it.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  // GraphiQL's dialogs add a <style> element (react-remove-scroll) carrying
  // this nonce; the CSP allows styles with it and no other inline style.
  window.__webpack_nonce__ = root.dataset.styleNonce;
  // The endpoint path comes from the server (data-endpoint); the absolute
  // URLs are computed here so the page works behind any host, port or scheme.
  var url = new URL(root.dataset.endpoint || '/graphql', location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  root.textContent = '';
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
