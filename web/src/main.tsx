import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApolloProvider } from "@apollo/client/react";
import { BrowserRouter } from "react-router";
import { client } from "./apollo";
import { I18nProvider } from "./i18n";
import { App } from "./App";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ApolloProvider client={client}>
      <I18nProvider>
        <BrowserRouter basename="/app">
          <App />
        </BrowserRouter>
      </I18nProvider>
    </ApolloProvider>
  </StrictMode>,
);
