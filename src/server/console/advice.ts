/**
 * What an operator can do about each denial reason: the console shows it next to the message
 * the client saw. Reasons not listed get the general advice.
 */
const ADVICE: Record<string, string> = {
  no_trust_config: 'The rule requires Notary but the upstream has no trust server: set upstreams.<name>.trust.notary, or change the rule.',
  no_trust_data: 'The repository has no Notary trust data: sign the tag (docker trust sign / notary addhash), or exempt the repository with a rule.',
  tag_not_signed: 'The tag is not in the signed targets: sign it, or pull a tag that is signed.',
  digest_not_signed: 'The digest is not a signed target: pull it by a signed tag, or sign it.',
  digest_not_authorised: 'No verified image refers to this digest: pull the image by its signed tag or digest first.',
  signed_digest_unavailable: 'The registry no longer serves the signed digest: push it again, or sign what the tag now points to.',
  size_mismatch: 'The registry serves a manifest of another size than the one signed: re-sign, or find out who changed the tag.',
  pin_conflict: 'Two trust sources pin different digests for the tag: find which one is stale.',
  expired: 'Signed metadata or a signature has expired: re-sign, or publish fresh metadata (notary publish).',
  threshold: 'Fewer signers than the rule requires: add signatures, or lower the threshold.',
  bad_signature: 'A signature does not verify: the data was changed or signed with another key; investigate before trusting it.',
  required_signers: 'A signer the rule requires did not sign: have that signer sign, or change requiredSigners.',
  root_not_pinned: 'The Notary root key is not among the pinned ones: pin the new root after checking it, or roll back the rotation.',
  rollback: 'The trust server offered older metadata than seen before: possible replay; check the trust server.',
  hash_mismatch: 'Metadata does not match the hash that vouches for it: the trust server is inconsistent or tampered with.',
  too_large: 'Trust metadata exceeds the size limit: check the trust server.',
  malformed: 'Trust metadata or a signature could not be parsed: check what the server serves.',
  trust_unavailable: 'The trust server could not be reached: check its health and Signet’s route to it.',
  trust_state_unreadable: 'Signet’s own trust state could not be read: check its storage (disk or Redis); pulls fail closed meanwhile.',
  no_signature: 'No signature of the digest was found: sign it (cosign sign / notation sign), or check the rule’s repository setting.',
  untrusted_signer: 'The signature’s key or certificate authority is not trusted by the rule: add it to the trust material, or re-sign.',
  identity_mismatch: 'The signer’s identity is not one the rule names: check the certificate identity and the rule.',
  no_tlog_entry: 'The rule requires a transparency-log entry and the signature has none: sign with the log (the default of cosign sign).',
  claim_mismatch: 'The signature claims another digest, or is an attestation: sign this image.',
  signatures_unavailable: 'Signatures could not be fetched from the registry: check the registry and its referrers support.',
  revoked: 'A certificate of the signer is revoked: re-sign with a valid certificate.',
  revocation_unknown: 'Revocation could not be checked: allow the OCSP/CRL host (trust.revocation.allowedHosts) or set the revocation override.',
};

export function adviceFor(reason: string): string {
  return ADVICE[reason] ?? 'See the message and docs/SECURITY.md; the audit log has the full record.';
}
