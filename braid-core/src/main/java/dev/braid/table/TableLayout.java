package dev.braid.table;

import dev.braid.spec.TableFieldType;
import dev.braid.spec.TableSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A table's fields in spec order, with the indexes of the key and time fields and how many fields
 * the table had when its first rows were stored. Immutable.
 *
 * <p>A table's fields can grow at the end (see {@code RecordedSchemas}): rows stored before then
 * have only the first {@link #firstFields} (or, in a Base or a write that says so, the count it
 * gives), and read the later fields as absent.
 */
final class TableLayout {

  final TableSpec spec;
  final String[] names;
  final TableFieldType[] types;
  final int keyIndex;
  /** The index of the field giving a pushed row its last-write time, or -1. */
  final int timeIndex;
  /** The table's {@code ttl} in millis, or -1 when rows never expire. */
  final long ttlMillis;
  /**
   * The fields rows stored before the table's fields grew have: what a table Base of format 1 and a
   * {@link Writes#PUT} write are read with (a Delta checkpoint of format 1 has them too, and is
   * refused once the table has more). Equal to {@link #size()} for a table that never grew, whose
   * files are then written as before growth existed.
   */
  final int firstFields;
  private final Map<String, Integer> index = new HashMap<>();

  TableLayout(TableSpec spec) {
    this(spec, spec.fields().size());
  }

  /** @param firstFields see {@link #firstFields}; from 1 to the spec's field count */
  TableLayout(TableSpec spec, int firstFields) {
    this.spec = spec;
    int n = spec.fields().size();
    if (firstFields < 1 || firstFields > n) {
      throw new IllegalArgumentException("table '" + spec.name() + "': first fields " + firstFields + " is not in [1, "
          + n + "]");
    }
    this.firstFields = firstFields;
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
    ttlMillis = spec.ttl() == null ? -1 : spec.ttl().toMillis();
  }

  int size() {
    return names.length;
  }

  /** Whether fields were added after the first ones: rows are then written with their field count. */
  boolean grown() {
    return firstFields != names.length;
  }

  /**
   * Checks a field count read from a stored row or file.
   *
   * @throws IllegalArgumentException when it is not in [1, size()]: the stored data has fields this
   *     table does not (written by a spec with more fields, or damaged)
   */
  int requireFields(int fields, String where) {
    if (fields < 1 || fields > names.length) {
      throw new IllegalArgumentException(where + " has " + fields + " fields, but table '" + spec.name() + "' has "
          + names.length + " (" + String.join(", ", names) + ")");
    }
    return fields;
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
