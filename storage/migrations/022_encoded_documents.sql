-- Documents whose segments the re-ranker's encoder has all encoded (agents/encode.py writes the
-- row when it finds nothing left). The maintenance sweep looks for ready documents without one:
-- a join per document, where asking each document's segments for a missing encoding, every
-- sweep, would read every segment of every ready document.
CREATE TABLE encoded_documents (
    doc_id      uuid        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    encoder     text        NOT NULL,
    tenant_id   text        NOT NULL,
    encoded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_id, encoder)
);
-- What the encoders of earlier versions finished (each of their segments encoded).
INSERT INTO encoded_documents (doc_id, encoder, tenant_id)
SELECT d.id, e.encoder, d.tenant_id
FROM documents d
JOIN (SELECT DISTINCT doc_id, encoder FROM segment_encodings) e ON e.doc_id = d.id
WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.doc_id = d.id AND NOT EXISTS
                  (SELECT 1 FROM segment_encodings x
                   WHERE x.segment_id = s.id AND x.encoder = e.encoder));
