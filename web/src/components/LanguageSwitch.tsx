import { useI18n, type Lang } from "../i18n";

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <label className="lang">
      {t.language}{" "}
      <select value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        <option value="ko">한국어</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}
