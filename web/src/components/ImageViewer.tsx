import { useEffect, useRef } from "react";
import { useT } from "../i18n";

/** The full image, over the chat; Escape or the close button leave it. */
export function ImageViewer({
  attachment,
  onClose,
}: {
  attachment: { url: string; filename: string; width?: number | null; height?: number | null };
  onClose: () => void;
}) {
  const t = useT();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    d?.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} className="viewer" aria-label={attachment.filename} onClose={onClose}>
      <img src={attachment.url} alt={attachment.filename} />
      <div className="viewer-bar">
        <a href={attachment.url} download={attachment.filename}>
          {t.download}
        </a>
        <button type="button" onClick={onClose} autoFocus>
          {t.close}
        </button>
      </div>
    </dialog>
  );
}
