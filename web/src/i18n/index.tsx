// The language: the browser's (Korean when it prefers Korean, else English),
// switchable and remembered.
import { createContext, useContext, useEffect, useState, type ReactNode } from "react";
import { en, type Strings } from "./en";
import { ko } from "./ko";

export type Lang = "ko" | "en";
const strings: Record<Lang, Strings> = { ko, en };
const key = "chatty.lang";

function initial(): Lang {
  const saved = localStorage.getItem(key);
  if (saved === "ko" || saved === "en") return saved;
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language];
  return langs.some((l) => l?.toLowerCase().startsWith("ko")) ? "ko" : "en";
}

const Ctx = createContext<{ lang: Lang; t: Strings; setLang: (l: Lang) => void }>({
  lang: "en",
  t: en,
  setLang: () => {},
});

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initial);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const setLang = (l: Lang) => {
    localStorage.setItem(key, l);
    setLangState(l);
  };
  return <Ctx.Provider value={{ lang, t: strings[lang], setLang }}>{children}</Ctx.Provider>;
}

export const useI18n = () => useContext(Ctx);
export const useT = () => useContext(Ctx).t;
