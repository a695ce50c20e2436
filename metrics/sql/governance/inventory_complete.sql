-- name: inventory_complete
-- grain: service
-- inputs: gov_scope
-- The inventory entry ([services.governance]) names what an auditor asks first.
SELECT service,
       (tier IS NOT NULL AND owner_team <> 'unassigned' AND intended_use IS NOT NULL
        AND model_card IS NOT NULL AND runbook IS NOT NULL AND fallback IS NOT NULL
        AND rollback_procedure IS NOT NULL) AS ok,
       CASE WHEN tier IS NULL THEN 'no [services.governance] entry (risk tier unknown)'
            ELSE coalesce('missing: ' || nullif(concat_ws(', ',
                     CASE WHEN owner_team = 'unassigned' THEN 'owner team' END,
                     CASE WHEN intended_use IS NULL THEN 'intended use' END,
                     CASE WHEN model_card IS NULL THEN 'model card link' END,
                     CASE WHEN runbook IS NULL THEN 'runbook link' END,
                     CASE WHEN fallback IS NULL THEN 'fallback behaviour' END,
                     CASE WHEN rollback_procedure IS NULL THEN 'rollback procedure' END), ''),
                 'owner ' || owner_team || ', tier ' || tier || ', model card and runbook linked')
       END AS detail,
       owner_team, model_card, runbook, array_to_string(data_contracts, ', ') AS data_contracts
FROM gov_scope
