// chatty's notification widget, loaded as a classic script:
//
//   <script src="https://chat.example.com/widget.js"></script>
//   <div id="chat-badge"></div>
//   <script>
//     const w = ChattyWidget.mount(document.getElementById('chat-badge'), {
//       url: 'https://chat.example.com/graphql',
//       getToken: async () => (await fetch('/my-chat-token')).text(),
//     });
//     // later: w.unmount();
//   </script>

import { mount as mountOne, type MountOptions, type Widget } from './widget';

// Where this script came from: the default GraphQL endpoint sits next to it.
const script = document.currentScript as HTMLScriptElement | null;
const defaultURL = script?.src ? new URL('/graphql', script.src).href : '/graphql';

const mounted = new WeakMap<Element, Widget>();

function mount(element: Element, options: MountOptions): Widget {
  mounted.get(element)?.unmount(); // mounting twice replaces, never doubles
  const w = mountOne(element, options, defaultURL);
  mounted.set(element, w);
  return w;
}

function unmount(element: Element): void {
  mounted.get(element)?.unmount();
  mounted.delete(element);
}

const api = { mount, unmount, version: '1' };
(globalThis as unknown as { ChattyWidget: typeof api }).ChattyWidget = api;
