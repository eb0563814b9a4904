// The gateway key that `/v1` calls from this tab use: pasted, or remembered from a key created or
// rotated here. Held in memory only.
import { useGatewayKey } from "../gateway";
import { t } from "../i18n";
import { Field } from "../ui";

export function KeyField() {
  const [key, setKey] = useGatewayKey();
  return (
    <Field label={t("Gateway key (for /v1 calls from this page)")}>
      <input type="password" autocomplete="off" data-testid="gateway-key" value={key} placeholder="oe-…" onInput={(e) => setKey(e.currentTarget.value.trim())} />
    </Field>
  );
}
