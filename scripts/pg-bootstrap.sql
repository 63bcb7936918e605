-- pg-bootstrap.sql - the flatrender database and one login role + schema per service.
--
-- Run by a superuser with psql, connected to the `postgres` database, with these variables:
--   services            space-separated service names (default: identity billing)
--   passwords           JSON object {"<service>": "<password>"}; a missing entry means the
--                       password equals the service name (local stacks only)
--   superuser_password  optional: sets the password of the connected superuser
-- Used by scripts/stack.sh (local and test stacks) and scripts/docker-pg-init.sh (the postgres
-- container's first start). Idempotent: safe to run on every `up`.
--
-- Each service role owns exactly its schema: it can connect to flatrender and create objects
-- only in its own schema; PUBLIC gets nothing on the database or on schema public.

\set ON_ERROR_STOP on
\if :{?services}
\else
\set services 'identity billing'
\endif
\if :{?passwords}
\else
\set passwords '{}'
\endif

SET client_min_messages = warning;

\if :{?superuser_password}
SELECT format('ALTER ROLE %I PASSWORD %L', current_user, :'superuser_password') \gexec
\endif

SELECT 'CREATE DATABASE flatrender'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'flatrender') \gexec

\connect flatrender
SET client_min_messages = warning;

REVOKE ALL ON DATABASE flatrender FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

SELECT set_config('flatrender.services', :'services', false);
SELECT set_config('flatrender.passwords', :'passwords', false);

DO $bootstrap$
DECLARE
	svc text;
	pw text;
	pws jsonb := current_setting('flatrender.passwords')::jsonb;
BEGIN
	FOREACH svc IN ARRAY regexp_split_to_array(btrim(current_setting('flatrender.services')), '\s+')
	LOOP
		IF svc !~ '^[a-z][a-z0-9_]{0,62}$' THEN
			RAISE EXCEPTION 'bad service name %', svc;
		END IF;
		pw := coalesce(pws ->> svc, svc);
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = svc) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', svc);
		END IF;
		EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
			       'PASSWORD %L', svc, pw);
		EXECUTE format('ALTER ROLE %I IN DATABASE flatrender SET search_path = %I', svc, svc);
		EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, svc);
		EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, svc);
		EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
		EXECUTE format('GRANT CONNECT ON DATABASE flatrender TO %I', svc);
	END LOOP;
END
$bootstrap$;
