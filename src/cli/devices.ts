/**
 * -device and -global: the devices a user can add to tsvm's pc, with their
 * properties described once, as QEMU's qdev does, so that parsing, -global
 * defaults and `-device NAME,help` all read the same table.
 */
import type { DeviceConfig } from '../config.js';
import { errorAt, OptionError } from './errors.js';
import { checkId, isHelp, parseInteger, SubOptions } from './suboptions.js';

interface PropertyModel {
  type: 'uint32' | 'str';
  description: string;
  default?: number;
  /** Inclusive range tsvm can place the device in (ISA ports). */
  max?: number;
  min?: number;
}

interface DeviceModel {
  name: DeviceConfig['driver'];
  bus: 'ISA';
  category: string;
  properties: Record<string, PropertyModel>;
}

const PORT = { min: 0, max: 0xffff } as const;

const DEVICE_MODELS: readonly DeviceModel[] = [
  {
    name: 'isa-debug-exit',
    bus: 'ISA',
    category: 'Misc devices',
    properties: {
      iobase: { type: 'uint32', description: '', default: 0x501, ...PORT },
      iosize: { type: 'uint32', description: '', default: 2, min: 1, max: 4 },
    },
  },
  {
    name: 'isa-debugcon',
    bus: 'ISA',
    category: 'Misc devices',
    properties: {
      chardev: { type: 'str', description: 'ID of a chardev to use as a backend' },
      iobase: { type: 'uint32', description: '', default: 0xe9, ...PORT },
    },
  },
];

export type PropertyValues = Record<string, number | string>;

/** One -device (or -debugcon) before -global defaults are applied. */
export interface DeviceRequest {
  location: string;
  driver: DeviceConfig['driver'];
  id?: string;
  properties: PropertyValues;
}

export interface GlobalProperty {
  driver: string;
  property: string;
  value: string;
}

function findModel(name: string): DeviceModel | undefined {
  return DEVICE_MODELS.find((m) => m.name === name);
}

/** `-device help`, grouped by category as QEMU groups it. */
function deviceListHelp(): string {
  const categories = [...new Set(DEVICE_MODELS.map((m) => m.category))];
  return categories
    .map(
      (c) =>
        `${c}:\n${DEVICE_MODELS.filter((m) => m.category === c)
          .map((m) => `name "${m.name}", bus ${m.bus}\n`)
          .join('')}`,
    )
    .join('\n');
}

/** `-device isa-debug-exit,help`: the property list, QEMU's layout. */
function devicePropertiesHelp(model: DeviceModel): string {
  const lines = Object.entries(model.properties).map(([name, p]) => {
    const shownDefault = p.default === undefined ? '' : ` (default: ${p.default})`;
    return `  ${`${name}=<${p.type}>`.padEnd(22)} - ${p.description}${shownDefault}\n`;
  });
  return `${model.name} options:\n${lines.join('')}`;
}

/** The result of `-device ...`: a request, or help text to print. */
export type DeviceOption = { kind: 'device'; request: DeviceRequest } | { kind: 'help'; text: string };

export function parseDeviceOption(location: string, text: string): DeviceOption {
  const opts = new SubOptions(text, { implied: 'driver' });
  const driver = opts.string('driver');
  if (driver !== undefined && isHelp(driver)) return { kind: 'help', text: deviceListHelp() };
  if (driver === undefined) throw new OptionError(`Parameter 'driver' is missing`);
  const model = findModel(driver);
  if (!model) throw new OptionError(`'${driver}' is not a valid device model name`);
  if (opts.help) return { kind: 'help', text: devicePropertiesHelp(model) };
  const request: DeviceRequest = { location, driver: model.name, properties: {} };
  for (const key of opts.keys()) {
    if (key === 'driver') continue;
    if (key === 'id') {
      request.id = opts.string('id')!;
      checkId(request.id);
      continue;
    }
    request.properties[key] = propertyValue(model, key, opts.string(key)!, 'integer');
  }
  return { kind: 'device', request };
}

/** Checks one property against the model; `noun` is how QEMU names a bad integer here. */
function propertyValue(model: DeviceModel, name: string, text: string, noun: string): number | string {
  const property = model.properties[name];
  if (!property) throw new OptionError(`Property '${model.name}.${name}' not found`);
  if (property.type === 'str') return text;
  const n = parseInteger(text);
  if (n === undefined || n > 0xffffffff) throw new OptionError(`Parameter '${name}' expects ${noun}`);
  const min = property.min ?? 0;
  const max = property.max ?? 0xffffffff;
  if (n < min || n > max) {
    throw new OptionError(`Property '${model.name}.${name}' doesn't take value ${n} (minimum: ${min}, maximum: ${max})`);
  }
  return n;
}

/**
 * `-global driver.prop=value` or `-global driver=d,property=p,value=v`.
 * QEMU only warns about an unknown driver and checks the property when a
 * device is created; tsvm knows its few devices and refuses both at once.
 */
export function parseGlobalOption(text: string): GlobalProperty {
  const short = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(text);
  const global = short ? { driver: short[1]!, property: short[2]!, value: short[3]! } : longGlobal(text);
  const model = findModel(global.driver);
  if (!model) throw new OptionError(`global ${global.driver}.${global.property} has invalid class name`);
  // QEMU's string visitor reads -global integers as uint64 first, hence its noun.
  propertyValue(model, global.property, global.value, 'uint64');
  return global;
}

function longGlobal(text: string): GlobalProperty {
  const opts = new SubOptions(text);
  opts.allowOnly(['driver', 'property', 'value']);
  const [driver, property, value] = ['driver', 'property', 'value'].map((k) => opts.string(k));
  if (driver === undefined || property === undefined || value === undefined) {
    throw new OptionError(`Parameter '${driver === undefined ? 'driver' : property === undefined ? 'property' : 'value'}' is missing`);
  }
  return { driver, property, value };
}

/** A device's final properties: the model's defaults, then -global, then its own. */
export function resolveDevice(request: DeviceRequest, globals: readonly GlobalProperty[], chardevIds: ReadonlySet<string>): DeviceConfig {
  const model = findModel(request.driver)!;
  const values: PropertyValues = {};
  for (const [name, p] of Object.entries(model.properties)) if (p.default !== undefined) values[name] = p.default;
  for (const g of globals) {
    if (g.driver === model.name) values[g.property] = propertyValue(model, g.property, g.value, 'uint64');
  }
  Object.assign(values, request.properties);
  const id = request.id === undefined ? {} : { id: request.id };
  if (model.name === 'isa-debug-exit') {
    return { driver: 'isa-debug-exit', iobase: values.iobase as number, iosize: values.iosize as number, ...id };
  }
  const chardev = values.chardev as string | undefined;
  if (chardev === undefined) throw errorAt(request.location, `Can't create debugcon device, empty char device`);
  if (!chardevIds.has(chardev)) {
    throw errorAt(request.location, `Property 'isa-debugcon.chardev' can't find value '${chardev}'`);
  }
  return { driver: 'isa-debugcon', iobase: values.iobase as number, chardev, ...id };
}
