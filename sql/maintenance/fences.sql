-- Fences: one apply of a table, one expiry or archive of a set, at a time. Advisory locks would
-- not do: their keys are numbers any role can compute and hold, and a role holding one would stall
-- retention. A fence is an empty view in partman_stack, locked SHARE UPDATE EXCLUSIVE: locking it
-- needs privileges on it and USAGE on this schema, which only its owner has. That mode conflicts
-- with itself, and with nothing pg_dump, VACUUM or a query takes on a view.
-- A fence outlives no session: held in a transaction (expire), or in a dedicated session's open
-- transaction that ends with the process that holds it (apply, archive).

-- The fence named p_name, NULL until it is first used: for who holds it, without making it.
CREATE OR REPLACE FUNCTION partman_stack.existing_fence(p_name text)
RETURNS regclass
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT to_regclass('partman_stack.fence_' || md5(p_name))
$$;

-- The fence named p_name, created on first use. Create it in a transaction of its own before taking
-- it: a fence created in a transaction that then holds it is invisible to the others until it commits.
CREATE OR REPLACE FUNCTION partman_stack.fence(p_name text)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    v_view text := 'fence_' || md5(p_name);
BEGIN
    IF partman_stack.existing_fence(p_name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE VIEW partman_stack.%I AS SELECT', v_view);
            EXECUTE format('COMMENT ON VIEW partman_stack.%I IS %L', v_view, 'partman-stack fence: ' || p_name);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- created by another session meanwhile
        END;
    END IF;
    RETURN partman_stack.existing_fence(p_name);
END
$$;

-- The fence of a declared set's expiry, which expire() and partman-stack archive take (its
-- sub-parents' expiry takes the set's).
CREATE OR REPLACE FUNCTION partman_stack.maintenance_fence(p_set text)
RETURNS regclass
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT partman_stack.fence('maintenance ' || p_set)
$$;

-- Takes the fence in the caller's transaction, waiting at most p_max_wait: false when the wait ran out.
CREATE OR REPLACE FUNCTION partman_stack.fence_within(p_fence regclass, p_max_wait interval)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT partman_stack.lock_within(format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', partman_stack.relation_name(p_fence)), p_max_wait)
$$;

-- Who holds the fence, for a message (lock_holder's description); NULL when nobody does.
CREATE OR REPLACE FUNCTION partman_stack.fence_holder(p_fence regclass)
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
    SELECT partman_stack.lock_holder(ARRAY[p_fence], 'ACCESS EXCLUSIVE', interval '-1 s')
$$;
