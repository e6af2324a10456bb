package dev.braid.table;

import dev.braid.spec.TableFieldType;
import dev.braid.spec.TableSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A table's fields in spec order, with the indexes of the key and time fields. Immutable. */
final class TableLayout {

  final TableSpec spec;
  final String[] names;
  final TableFieldType[] types;
  final int keyIndex;
  /** The index of the field giving a pushed row its last-write time, or -1. */
  final int timeIndex;
  private final Map<String, Integer> index = new HashMap<>();

  TableLayout(TableSpec spec) {
    this.spec = spec;
    int n = spec.fields().size();
    names = new String[n];
    types = new TableFieldType[n];
    int i = 0;
    for (Map.Entry<String, TableFieldType> e : spec.fields().entrySet()) {
      names[i] = e.getKey();
      types[i] = e.getValue();
      index.put(e.getKey(), i);
      i++;
    }
    keyIndex = index.get(spec.key());
    timeIndex = spec.time() == null ? -1 : index.get(spec.time());
  }

  int size() {
    return names.length;
  }

  /** The index of field {@code name}, or -1. */
  int index(String name) {
    Integer i = index.get(name);
    return i == null ? -1 : i;
  }

  List<String> fieldNames() {
    return new ArrayList<>(List.of(names));
  }

  String describe(int field) {
    return "field '" + names[field] + "' (" + types[field].specName() + ")";
  }
}
