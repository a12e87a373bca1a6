CREATE TABLE "round_exports" (
	"round_id" integer NOT NULL,
	"format" text NOT NULL,
	"blob_key" text NOT NULL,
	"size" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "round_exports_round_id_format_pk" PRIMARY KEY("round_id","format")
);
--> statement-breakpoint
ALTER TABLE "round_exports" ADD CONSTRAINT "round_exports_round_id_rounds_id_fk" FOREIGN KEY ("round_id") REFERENCES "public"."rounds"("id") ON DELETE cascade ON UPDATE no action;