/**
 * The field plan of one cycle: from the mappings' analysis, which fields of which object types are read and
 * written each way. Built once per cycle, so a PUT of the mappings takes effect at the next one.
 */
import type { MappingAnalysis } from './mappings';
import type { PerSide, SideKey } from './model';

export interface PlannedField {
  /** The field on each side (the snapshot keys values by the left side's name). */
  names: PerSide<string>;
  /** Whether values flow into that side. */
  to: PerSide<boolean>;
  /** Values differing only in letter case are equal (emails). */
  caseInsensitive?: boolean;
}

/** A field the sync itself sets on one side of an object pair. */
export interface FlagPlan {
  side: SideKey;
  field: string;
}

/** One pair of object types that sync with each other (`lead` with `contact`). */
export interface ObjectPairPlan {
  /** `<left type>-><right type>`, how messages and mappings name the pair. */
  key: string;
  types: PerSide<string>;
  fields: PlannedField[];
  email: PerSide<string>;
  /** On `side`, a field set to the other side's object type of the link. */
  typeField?: FlagPlan;
  /** On `side`, a boolean set when the other side's record is deleted. */
  deletedFlag?: FlagPlan;
}

export class FieldPlan {
  constructor(readonly pairs: readonly ObjectPairPlan[]) {}

  static build(analysis: MappingAnalysis, emails: PerSide<ReadonlyMap<string, string>>): FieldPlan {
    const pairs = analysis.objects.map((object): ObjectPairPlan => {
      const fields = object.fields
        .filter((f) => f.to.left || f.to.right)
        .map((f): PlannedField => ({
          names: f.names,
          to: f.to,
          ...(f.caseInsensitive ? { caseInsensitive: true } : {}),
        }));
      const plan: ObjectPairPlan = {
        key: `${object.types.left}->${object.types.right}`,
        types: object.types,
        fields,
        email: {
          left: emails.left.get(object.types.left) ?? '',
          right: emails.right.get(object.types.right) ?? '',
        },
      };
      for (const flag of object.flags) {
        if (!flag.available) continue;
        if (flag.role === 'type') plan.typeField = { side: flag.side, field: flag.field };
        else plan.deletedFlag = { side: flag.side, field: flag.field };
      }
      return plan;
    });
    return new FieldPlan(pairs);
  }

  pair(types: PerSide<string>): ObjectPairPlan | undefined {
    return this.pairs.find((p) => p.types.left === types.left && p.types.right === types.right);
  }

  /** The pairs an object type of `side` takes part in. */
  pairsOf(side: SideKey, type: string): ObjectPairPlan[] {
    return this.pairs.filter((p) => p.types[side] === type);
  }

  /** The object types of `side` that take part in some pair. */
  types(side: SideKey): string[] {
    return [...new Set(this.pairs.map((p) => p.types[side]))];
  }

  /** Fields to read from `side`'s `type`: its email and every field or flag any pair reads or sets there. */
  read(side: SideKey, type: string): string[] {
    const fields = new Set<string>();
    for (const pair of this.pairsOf(side, type)) {
      fields.add(pair.email[side]);
      for (const f of pair.fields) fields.add(f.names[side]);
      for (const flag of [pair.typeField, pair.deletedFlag]) if (flag?.side === side) fields.add(flag.field);
    }
    return [...fields];
  }

  email(side: SideKey, type: string): string | undefined {
    return this.pairsOf(side, type)[0]?.email[side];
  }
}
