import { useEffect, useState } from "react";
import { wsClient } from "../apollo";
import { useT } from "../i18n";

/** Says so while the live connection is down and being retried. */
export function ConnectionBanner() {
  const t = useT();
  const [down, setDown] = useState(false);
  useEffect(() => {
    const offs = [
      wsClient.on("connected", () => setDown(false)),
      wsClient.on("closed", (e) => setDown((e as CloseEvent)?.code !== 1000)),
    ];
    return () => offs.forEach((off) => off());
  }, []);
  if (!down) return null;
  return (
    <div className="banner" role="status">
      {t.reconnecting}
    </div>
  );
}
