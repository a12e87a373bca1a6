-- A volunteer's second live lease on one item (left by racing claims) ends as expired, and its replica is freed.
WITH "extra" AS (
  UPDATE "leases" SET "active" = false, "outcome" = 'expired'
  WHERE "id" IN (
    SELECT "id" FROM (
      SELECT "id", row_number() OVER (PARTITION BY "work_item_id", "volunteer_id" ORDER BY "id") AS "rank"
      FROM "leases" WHERE "active"
    ) "ranked" WHERE "rank" > 1
  )
  RETURNING "work_item_id"
), "freed" AS (
  SELECT "work_item_id", count(*) AS "n" FROM "extra" GROUP BY "work_item_id"
)
UPDATE "work_items" SET
  "taken" = "work_items"."taken" - "freed"."n",
  "status" = CASE WHEN "work_items"."status" = 'leased' THEN 'open' ELSE "work_items"."status" END
FROM "freed" WHERE "work_items"."id" = "freed"."work_item_id";--> statement-breakpoint
CREATE UNIQUE INDEX "leases_live_item_volunteer" ON "leases" USING btree ("work_item_id","volunteer_id") WHERE "leases"."active";
