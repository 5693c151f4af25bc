-- Webhooks: endpoints per app, the outbox of messages and their deliveries.
--
-- The outbox is written by triggers on the tables whose changes are events,
-- so every message is written in the same transaction as the change that
-- caused it (a crash between the change and the delivery loses nothing),
-- whatever statement made the change. A message is written only when an
-- enabled endpoint of the app subscribed to its type, with one delivery per
-- such endpoint. Payload `data` holds ids only (the same objects as
-- `src/webhooks/mod.rs`, `data`).
--
-- Endpoint secrets are stored encrypted under the server key ring
-- (`secret` is nonce, ciphertext and tag; `secret_key_id` the ring's key).

CREATE TABLE oauth_webhook_endpoints (
    id                     text        COLLATE "C" PRIMARY KEY,
    workspace_id           text        NOT NULL,
    app_id                 text        COLLATE "C" NOT NULL
        REFERENCES oauth_apps (id) ON DELETE CASCADE,
    url                    text        NOT NULL,
    events                 text[]      NOT NULL,
    enabled                boolean     NOT NULL,
    secret_key_id          smallint    NOT NULL CHECK (secret_key_id BETWEEN 0 AND 255),
    secret                 bytea       NOT NULL,
    previous_secret_key_id smallint    NULL CHECK (previous_secret_key_id BETWEEN 0 AND 255),
    previous_secret        bytea       NULL,
    previous_valid_until   timestamptz NULL,
    failing_since          timestamptz NULL,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    CONSTRAINT oauth_webhook_endpoints_previous CHECK (
        (previous_secret IS NULL) = (previous_valid_until IS NULL)
        AND (previous_secret IS NULL) = (previous_secret_key_id IS NULL)
    )
);

CREATE INDEX oauth_webhook_endpoints_app ON oauth_webhook_endpoints (app_id, created_at, id);

CREATE TABLE oauth_webhook_messages (
    id           text        COLLATE "C" PRIMARY KEY,
    workspace_id text        NOT NULL,
    app_id       text        COLLATE "C" NOT NULL,
    event_type   text        NOT NULL,
    data         jsonb       NOT NULL,
    occurred_at  timestamptz NOT NULL
);

CREATE TABLE oauth_webhook_deliveries (
    id               text        COLLATE "C" PRIMARY KEY,
    endpoint_id      text        COLLATE "C" NOT NULL
        REFERENCES oauth_webhook_endpoints (id) ON DELETE CASCADE,
    message_id       text        COLLATE "C" NOT NULL
        REFERENCES oauth_webhook_messages (id) ON DELETE CASCADE,
    event_type       text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- '-infinity': due at once.
    next_attempt_at  timestamptz NULL,
    lease_until      timestamptz NULL,
    first_attempt_at timestamptz NULL,
    last_attempt_at  timestamptz NULL,
    last_status_code integer     NULL,
    last_latency_ms  integer     NULL,
    last_error       text        NULL,
    created_at       timestamptz NOT NULL,
    seq              bigserial   NOT NULL
);

-- The workers' claim: pending deliveries by due time.
CREATE INDEX oauth_webhook_deliveries_due ON oauth_webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- An endpoint's recent deliveries.
CREATE INDEX oauth_webhook_deliveries_endpoint ON oauth_webhook_deliveries (endpoint_id, seq);
CREATE INDEX oauth_webhook_deliveries_message ON oauth_webhook_deliveries (message_id);

-- Records one event: a message and one delivery per enabled endpoint of the
-- app subscribed to its type; nothing when there is none (or the app is
-- gone, as in the cascade of its deletion).
CREATE FUNCTION oauth_webhook_record(
    p_workspace text, p_app text, p_type text, p_data jsonb, p_at timestamptz
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_message text;
    v_count integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM oauth_webhook_endpoints
                   WHERE app_id = p_app AND enabled AND p_type = ANY (events)) THEN
        RETURN 0;
    END IF;
    v_message := 'msg_' || replace(gen_random_uuid()::text, '-', '');
    INSERT INTO oauth_webhook_messages (id, workspace_id, app_id, event_type, data, occurred_at)
    VALUES (v_message, p_workspace, p_app, p_type, p_data, p_at);
    INSERT INTO oauth_webhook_deliveries (id, endpoint_id, message_id, event_type, status,
                                          next_attempt_at, created_at)
    SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), e.id, v_message, p_type,
           'pending', '-infinity', p_at
    FROM oauth_webhook_endpoints e
    WHERE e.app_id = p_app AND e.enabled AND p_type = ANY (e.events)
    ORDER BY e.created_at, e.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END $$;

CREATE FUNCTION oauth_webhook_connections() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_type text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        v_type := 'connection.created';
    ELSIF OLD.status = 'active' AND NEW.status = 'revoked' THEN
        v_type := 'connection.revoked';
    ELSIF NEW.status = 'active' AND (
            OLD.tags IS DISTINCT FROM NEW.tags
            OR OLD.grant_id IS DISTINCT FROM NEW.grant_id
            OR OLD.customer_id IS DISTINCT FROM NEW.customer_id
            OR OLD.reference_id IS DISTINCT FROM NEW.reference_id
            OR OLD.attached_at IS DISTINCT FROM NEW.attached_at
            OR OLD.linked_account_reference IS DISTINCT FROM NEW.linked_account_reference) THEN
        v_type := 'connection.updated';
    ELSE
        RETURN NULL;
    END IF;
    PERFORM oauth_webhook_record(NEW.workspace_id, NEW.app_id, v_type,
        jsonb_build_object('id', NEW.id, 'appId', NEW.app_id, 'customerId', NEW.customer_id,
                           'referenceId', NEW.reference_id, 'status', NEW.status),
        NEW.updated_at);
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_webhook_connections AFTER INSERT OR UPDATE ON oauth_connections
    FOR EACH ROW EXECUTE FUNCTION oauth_webhook_connections();

CREATE FUNCTION oauth_webhook_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM oauth_webhook_record(OLD.workspace_id, OLD.app_id, 'customer.deleted',
            jsonb_build_object('id', OLD.id, 'appId', OLD.app_id,
                               'referenceId', OLD.reference_id),
            now());
    ELSIF OLD.info IS DISTINCT FROM NEW.info OR OLD.updated_at IS DISTINCT FROM NEW.updated_at THEN
        PERFORM oauth_webhook_record(NEW.workspace_id, NEW.app_id, 'customer.updated',
            jsonb_build_object('id', NEW.id, 'appId', NEW.app_id,
                               'referenceId', NEW.reference_id),
            NEW.updated_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_webhook_customers AFTER UPDATE OR DELETE ON oauth_customers
    FOR EACH ROW EXECUTE FUNCTION oauth_webhook_customers();

CREATE FUNCTION oauth_webhook_scoped_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM oauth_webhook_record(NEW.workspace_id, NEW.app_id, 'scoped_key.revoked',
            jsonb_build_object('id', NEW.id, 'appId', NEW.app_id,
                               'customerId', NEW.customer_id, 'referenceId', NEW.reference_id),
            NEW.revoked_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_webhook_scoped_keys AFTER UPDATE ON oauth_scoped_keys
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION oauth_webhook_scoped_keys();

CREATE FUNCTION oauth_webhook_apps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.secret_hash IS NOT NULL AND NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
        PERFORM oauth_webhook_record(NEW.workspace_id, NEW.id, 'app.secret_rotated',
            jsonb_build_object('appId', NEW.id, 'clientId', NEW.client_id),
            NEW.updated_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_webhook_apps AFTER UPDATE ON oauth_apps
    FOR EACH ROW WHEN (OLD.secret_hash IS DISTINCT FROM NEW.secret_hash) EXECUTE FUNCTION oauth_webhook_apps();

-- Connect sessions: decided (completed, denied), or removed unanswered by
-- the purge (expired, at their expiry).
CREATE FUNCTION oauth_webhook_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_row oauth_sessions;
    v_type text;
    v_at timestamptz;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.connect IS NULL OR OLD.status <> 'pending' THEN
            RETURN NULL;
        END IF;
        v_row := OLD;
        v_type := 'connect.session.expired';
        v_at := OLD.expires_at;
    ELSE
        IF NEW.connect IS NULL OR OLD.status <> 'pending' OR NEW.status = 'pending' THEN
            RETURN NULL;
        END IF;
        v_row := NEW;
        v_type := CASE NEW.status WHEN 'approved' THEN 'connect.session.completed'
                                  ELSE 'connect.session.denied' END;
        v_at := now();
    END IF;
    PERFORM oauth_webhook_record(v_row.workspace_id, v_row.app_id, v_type,
        jsonb_build_object('appId', v_row.app_id, 'clientId', v_row.client_id,
                           'referenceId', v_row.connect->>'referenceId',
                           'mode', v_row.connect->>'mode'),
        v_at);
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_webhook_sessions_decided AFTER UPDATE ON oauth_sessions
    FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status <> 'pending' AND NEW.connect IS NOT NULL)
    EXECUTE FUNCTION oauth_webhook_sessions();
CREATE TRIGGER oauth_webhook_sessions_expired AFTER DELETE ON oauth_sessions
    FOR EACH ROW WHEN (OLD.status = 'pending' AND OLD.connect IS NOT NULL)
    EXECUTE FUNCTION oauth_webhook_sessions();
