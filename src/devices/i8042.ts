/**
 * Intel 8042 keyboard controller of the PC/AT, with a PS/2 keyboard on its
 * first port and a PS/2 mouse on its auxiliary port.
 *
 * Ports: 0x60 data (read: output buffer; write: to the keyboard, or the
 * parameter of a controller command), 0x64 status (read) / command (write).
 * The output port carries the A20 gate (bit 1) and the CPU reset line (bit 0,
 * active low). IRQ 1 is raised while the output buffer holds keyboard or
 * controller data, IRQ 12 while it holds mouse data, each if the command byte
 * enables it.
 *
 * With command byte bit 6 set the controller translates the keyboard's scan
 * code set 2 into set 1 on the way to the output buffer (0xF0 break prefixes
 * become bit 7), as every PC BIOS and Linux expect.
 *
 * References: IBM PS/2 Hardware Interface Technical Reference (keyboard and
 * auxiliary device controller); QEMU hw/input/pckbd.c and hw/input/ps2.c.
 */
import type { A20Gate } from '../io/a20.js';
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import { log } from '../log.js';
import type { Lifecycle } from '../machine/lifecycle.js';

// Status register (port 0x64 read).
const STAT_OBF = 0x01;
const STAT_SYS = 0x04;
/** The last write went to port 0x64 (a command), not 0x60. */
const STAT_CMD = 0x08;
/** Keyboard lock switch: 1 = not inhibited. */
const STAT_UNLOCKED = 0x10;
const STAT_AUX_OBF = 0x20;

// Command byte ("controller RAM byte 0").
const CCB_KBD_INT = 0x01;
const CCB_AUX_INT = 0x02;
const CCB_SYS = 0x04;
const CCB_KBD_DISABLED = 0x10;
const CCB_AUX_DISABLED = 0x20;
const CCB_TRANSLATE = 0x40;

// Output port (command 0xD0/0xD1).
const OUT_RESET = 0x01; // CPU reset line, active low
const OUT_A20 = 0x02;
const OUT_OBF = 0x10;
const OUT_AUX_OBF = 0x20;
/** Keyboard/aux clock and data lines, idle high. */
const OUT_LINES_IDLE = 0xcc;

const SELF_TEST_PASSED = 0x55;
const INTERFACE_TEST_PASSED = 0x00;
/** Input port: bit 7 set = keyboard not inhibited. */
const INPUT_PORT = 0x80;

// Replies of PS/2 devices.
const ACK = 0xfa;
const RESEND = 0xfe;
const SELF_TEST_OK = 0xaa;
const ECHO = 0xee;
const KEYBOARD_ID = [0xab, 0x83];
const MOUSE_ID = 0x00;

/** A PS/2 device buffers this many bytes (QEMU's PS2_QUEUE_SIZE); scan codes beyond it are lost. */
const DEVICE_QUEUE_SIZE = 16;
/** Command replies may use a little more room (QEMU's PS2_QUEUE_HEADROOM); a guest that never reads loses the rest. */
const REPLY_QUEUE_LIMIT = DEVICE_QUEUE_SIZE + 8;
/** Controller replies a guest issued without reading them. */
const CONTROLLER_QUEUE_LIMIT = 16;

/** Appends bytes up to `limit`, dropping what does not fit (a hostile guest cannot grow a queue). */
function enqueue(queue: number[], bytes: readonly number[], limit: number): void {
  for (const b of bytes) if (queue.length < limit) queue.push(b & 0xff);
}

/** The 8042's set 2 → set 1 translation (IBM PS/2 Technical Reference; identical in QEMU, 86Box, bhyve). */
const TRANSLATION = buildTranslationTable();

function buildTranslationTable(): Uint8Array {
  // prettier-ignore
  const low = [
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
    0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
    0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
    0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
    0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
    0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
    0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
    0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
  ];
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i++) table[i] = i < 0x80 ? low[i]! : i;
  table[0x83] = 0x41; // F7 in set 2 sits outside the 7-bit range
  table[0x84] = 0x54; // SysRq
  return table;
}

/** Set 2 break code of a make code: 0xF0 before the final byte (E0 xx → E0 F0 xx). */
function breakCode(make: readonly number[]): number[] {
  if (make.length === 0) return [];
  return [...make.slice(0, -1), 0xf0, make[make.length - 1]!];
}

/** Set 2 make codes by QEMU key name (the monitor's `sendkey` names). */
// prettier-ignore
export const SET2_MAKE_CODES: Readonly<Record<string, readonly number[]>> = {
  a: [0x1c], b: [0x32], c: [0x21], d: [0x23], e: [0x24], f: [0x2b], g: [0x34], h: [0x33], i: [0x43],
  j: [0x3b], k: [0x42], l: [0x4b], m: [0x3a], n: [0x31], o: [0x44], p: [0x4d], q: [0x15], r: [0x2d],
  s: [0x1b], t: [0x2c], u: [0x3c], v: [0x2a], w: [0x1d], x: [0x22], y: [0x35], z: [0x1a],
  '1': [0x16], '2': [0x1e], '3': [0x26], '4': [0x25], '5': [0x2e], '6': [0x36], '7': [0x3d], '8': [0x3e],
  '9': [0x46], '0': [0x45],
  esc: [0x76], minus: [0x4e], equal: [0x55], backspace: [0x66], tab: [0x0d], ret: [0x5a], spc: [0x29],
  bracket_left: [0x54], bracket_right: [0x5b], semicolon: [0x4c], apostrophe: [0x52], grave_accent: [0x0e],
  backslash: [0x5d], comma: [0x41], dot: [0x49], slash: [0x4a], less: [0x61], caps_lock: [0x58],
  shift: [0x12], shift_r: [0x59], ctrl: [0x14], ctrl_r: [0xe0, 0x14], alt: [0x11], alt_r: [0xe0, 0x11],
  meta_l: [0xe0, 0x1f], meta_r: [0xe0, 0x27], menu: [0xe0, 0x2f],
  f1: [0x05], f2: [0x06], f3: [0x04], f4: [0x0c], f5: [0x03], f6: [0x0b], f7: [0x83], f8: [0x0a],
  f9: [0x01], f10: [0x09], f11: [0x78], f12: [0x07],
  num_lock: [0x77], scroll_lock: [0x7e],
  insert: [0xe0, 0x70], delete: [0xe0, 0x71], home: [0xe0, 0x6c], end: [0xe0, 0x69], pgup: [0xe0, 0x7d],
  pgdn: [0xe0, 0x7a], up: [0xe0, 0x75], down: [0xe0, 0x72], left: [0xe0, 0x6b], right: [0xe0, 0x74],
  kp_divide: [0xe0, 0x4a], kp_multiply: [0x7c], asterisk: [0x7c], kp_subtract: [0x7b], kp_add: [0x79],
  kp_enter: [0xe0, 0x5a], kp_decimal: [0x71], kp_0: [0x70], kp_1: [0x69], kp_2: [0x72], kp_3: [0x7a],
  kp_4: [0x6b], kp_5: [0x73], kp_6: [0x74], kp_7: [0x6c], kp_8: [0x75], kp_9: [0x7d],
};

// ---- the devices behind the controller ----

export interface Ps2KeyboardState {
  queue: number[];
  scanning: boolean;
  scancodeSet: number;
  leds: number;
  typematic: number;
  /** A command waiting for its parameter byte (0xED, 0xF0, 0xF3), or -1. */
  awaiting: number;
}

export interface Ps2MouseState {
  queue: number[];
  reporting: boolean;
  sampleRate: number;
  resolution: number;
  scaling21: boolean;
  remoteMode: boolean;
  wrap: boolean;
  /** A command waiting for its parameter byte (0xE8, 0xF3), or -1. */
  awaiting: number;
}

function initialKeyboard(): Ps2KeyboardState {
  return { queue: [], scanning: true, scancodeSet: 2, leds: 0, typematic: 0x2b, awaiting: -1 };
}

function initialMouse(): Ps2MouseState {
  return {
    queue: [],
    reporting: false,
    sampleRate: 100,
    resolution: 2,
    scaling21: false,
    remoteMode: false,
    wrap: false,
    awaiting: -1,
  };
}

/** A PS/2 keyboard: its command set (IBM keyboard "Commands from the System") and its output queue. */
class Ps2Keyboard {
  state = initialKeyboard();

  reset(): void {
    this.state = initialKeyboard();
  }

  /** Key bytes from the host; dropped while scanning is off or the buffer is full. */
  sendScancodes(bytes: readonly number[]): void {
    const s = this.state;
    if (!s.scanning) return;
    enqueue(s.queue, bytes, DEVICE_QUEUE_SIZE);
  }

  private reply(...bytes: number[]): void {
    enqueue(this.state.queue, bytes, REPLY_QUEUE_LIMIT);
  }

  write(value: number): void {
    const s = this.state;
    if (s.awaiting >= 0) {
      const command = s.awaiting;
      s.awaiting = -1;
      // A command byte instead of the expected parameter starts that command.
      if (value < 0xed) {
        this.writeParameter(command, value);
        return;
      }
    }
    this.writeCommand(value);
  }

  private writeParameter(command: number, value: number): void {
    const s = this.state;
    switch (command) {
      case 0xed:
        s.leds = value & 7;
        this.reply(ACK);
        return;
      case 0xf3:
        s.typematic = value & 0x7f;
        this.reply(ACK);
        return;
      case 0xf0:
        if (value === 0) {
          this.reply(ACK, s.scancodeSet);
        } else if (value <= 3) {
          s.scancodeSet = value;
          if (value !== 2) log.unimp({ set: value }, 'i8042: keyboard scan code sets other than 2');
          this.reply(ACK);
        } else {
          this.reply(RESEND);
        }
        return;
    }
  }

  private writeCommand(value: number): void {
    const s = this.state;
    switch (value) {
      case 0xed: // set LEDs
      case 0xf0: // get/set scan code set
      case 0xf3: // set typematic rate and delay
        s.awaiting = value;
        this.reply(ACK);
        return;
      case 0xee:
        this.reply(ECHO);
        return;
      case 0xf2: // identify
        this.reply(ACK, ...KEYBOARD_ID);
        return;
      case 0xf4:
        s.queue = [];
        s.scanning = true;
        this.reply(ACK);
        return;
      case 0xf5: // disable: defaults, scanning off
        this.setDefaults();
        s.scanning = false;
        this.reply(ACK);
        return;
      case 0xf6:
        this.setDefaults();
        this.reply(ACK);
        return;
      case 0xf7: // set-3 key type commands: accepted and ignored
      case 0xf8:
      case 0xf9:
      case 0xfa:
      case 0xfb:
      case 0xfc:
      case 0xfd:
        this.reply(ACK);
        return;
      case 0xff: // reset: basic assurance test passes
        this.reset();
        this.reply(ACK, SELF_TEST_OK);
        return;
      default:
        this.reply(RESEND);
    }
  }

  private setDefaults(): void {
    const s = this.state;
    s.queue = [];
    s.scanning = true;
    s.typematic = 0x2b;
    s.scancodeSet = 2;
  }
}

/** A PS/2 mouse: enough of the command set for BIOS and Linux psmouse probing. It never moves. */
class Ps2Mouse {
  state = initialMouse();

  reset(): void {
    this.state = initialMouse();
  }

  private reply(...bytes: number[]): void {
    enqueue(this.state.queue, bytes, REPLY_QUEUE_LIMIT);
  }

  write(value: number): void {
    const s = this.state;
    if (s.awaiting >= 0) {
      const command = s.awaiting;
      s.awaiting = -1;
      if (command === 0xe8) s.resolution = value & 3;
      else s.sampleRate = value;
      this.reply(ACK);
      return;
    }
    // Wrap (echo) mode returns every byte except its two exits.
    if (s.wrap && value !== 0xec && value !== 0xff) {
      this.reply(value);
      return;
    }
    this.writeCommand(value);
  }

  private writeCommand(value: number): void {
    const s = this.state;
    switch (value) {
      case 0xe6:
        s.scaling21 = false;
        break;
      case 0xe7:
        s.scaling21 = true;
        break;
      case 0xe8: // set resolution
      case 0xf3: // set sample rate
        s.awaiting = value;
        break;
      case 0xe9: // status request
        this.reply(ACK, this.statusByte(), s.resolution, s.sampleRate);
        return;
      case 0xea:
        s.remoteMode = false;
        break;
      case 0xeb: // read data: a packet with no movement and no buttons
        this.reply(ACK, 0x08, 0x00, 0x00);
        return;
      case 0xec:
        s.wrap = false;
        break;
      case 0xee:
        s.wrap = true;
        break;
      case 0xf0:
        s.remoteMode = true;
        break;
      case 0xf2: // identify
        this.reply(ACK, MOUSE_ID);
        return;
      case 0xf4:
        s.reporting = true;
        break;
      case 0xf5:
        s.reporting = false;
        break;
      case 0xf6:
        this.state = { ...initialMouse(), queue: s.queue };
        break;
      case 0xff:
        this.reset();
        this.reply(ACK, SELF_TEST_OK, MOUSE_ID);
        return;
      default:
        this.reply(RESEND);
        return;
    }
    this.reply(ACK);
  }

  /** Status byte: remote mode (6), reporting (5), scaling 2:1 (4); no buttons held. */
  private statusByte(): number {
    const s = this.state;
    return (s.remoteMode ? 0x40 : 0) | (s.reporting ? 0x20 : 0) | (s.scaling21 ? 0x10 : 0);
  }
}

// ---- the controller ----

type OutputSource = 'controller' | 'keyboard' | 'aux';

export interface I8042State {
  commandByte: number;
  status: number;
  outputPort: number;
  /** A controller command waiting for its data byte at port 0x60, or -1. */
  pendingCommand: number;
  /** The output buffer: what port 0x60 reads. */
  output: number;
  outputFull: boolean;
  outputSource: OutputSource;
  /** Bytes the controller itself puts in the output buffer (replies, 0xD2/0xD3), ahead of the devices. */
  controllerQueue: { value: number; source: OutputSource }[];
  /** Translation saw a 0xF0 break prefix: the next key byte gets bit 7. */
  translateBreak: boolean;
  keyboard: Ps2KeyboardState;
  mouse: Ps2MouseState;
}

function initialControllerState(): I8042State {
  return {
    commandByte: CCB_KBD_INT | CCB_AUX_INT,
    status: STAT_CMD | STAT_UNLOCKED,
    outputPort: OUT_RESET | OUT_A20 | OUT_LINES_IDLE,
    pendingCommand: -1,
    output: 0,
    outputFull: false,
    outputSource: 'controller',
    controllerQueue: [],
    translateBreak: false,
    keyboard: initialKeyboard(),
    mouse: initialMouse(),
  };
}

export class I8042 {
  private readonly keyboard = new Ps2Keyboard();
  private readonly mouse = new Ps2Mouse();
  private controller = initialControllerState();

  constructor(
    io: PortBus,
    private readonly irq1: IrqLine,
    private readonly irq12: IrqLine,
    private readonly a20: A20Gate,
    private readonly lifecycle: Lifecycle,
  ) {
    io.register('i8042-data', 0x60, 1, {
      read: () => this.readData(),
      write: (_port, _size, value) => this.writeData(value),
    });
    io.register('i8042-cmd', 0x64, 1, {
      read: () => this.readStatus(),
      write: (_port, _size, value) => this.writeCommand(value),
    });
  }

  /** The whole state, devices included, as plain data. */
  get state(): I8042State {
    return { ...this.controller, keyboard: this.keyboard.state, mouse: this.mouse.state };
  }

  reset(): void {
    this.controller = initialControllerState();
    this.keyboard.reset();
    this.mouse.reset();
    this.updateIrqs();
  }

  /** Key bytes in scan code set 2 as the keyboard sends them (make codes, or 0xF0-prefixed breaks). */
  sendScancodes(set2Bytes: readonly number[]): void {
    this.keyboard.sendScancodes(set2Bytes);
    this.fillOutputBuffer();
    this.updateIrqs();
  }

  /** Presses and releases one key given by its set 2 make code (e.g. [0x1c] for A, [0xe0, 0x75] for Up). */
  pressKey(make: readonly number[]): void {
    this.pressChord([make]);
  }

  /** sendkey's chord (ctrl-alt-delete): presses the keys in order, then releases them in reverse. */
  pressChord(makes: readonly (readonly number[])[]): void {
    const bytes: number[] = makes.flat();
    for (const make of [...makes].reverse()) bytes.push(...breakCode(make));
    this.sendScancodes(bytes);
  }

  // ---- port 0x64 ----

  private readStatus(): number {
    const c = this.controller;
    let status = c.status & ~(STAT_OBF | STAT_AUX_OBF);
    if (c.outputFull) status |= STAT_OBF | (c.outputSource === 'aux' ? STAT_AUX_OBF : 0);
    return status;
  }

  private writeCommand(command: number): void {
    const c = this.controller;
    c.status |= STAT_CMD;
    c.pendingCommand = -1;
    if (command >= 0x20 && command <= 0x3f) {
      // Read controller RAM: byte 0 is the command byte, the rest reads as zero.
      this.reply(command === 0x20 ? c.commandByte : 0);
      return;
    }
    if (command >= 0x60 && command <= 0x7f) {
      c.pendingCommand = command;
      return;
    }
    if (command >= 0xf0) {
      // Pulse output port bits 0-3 low for 6 us where the command's bit is 0: bit 0 is CPU reset.
      if (!(command & 0x01)) this.lifecycle.request({ kind: 'reset', cause: 'i8042 pulse reset (0xfe)' });
      return;
    }
    switch (command) {
      case 0xa7: // disable aux interface
        c.commandByte |= CCB_AUX_DISABLED;
        break;
      case 0xa8: // enable aux interface
        c.commandByte &= ~CCB_AUX_DISABLED;
        break;
      case 0xa9: // aux interface test
      case 0xab: // keyboard interface test
        this.reply(INTERFACE_TEST_PASSED);
        return;
      case 0xaa: // controller self-test
        c.status |= STAT_SYS;
        this.reply(SELF_TEST_PASSED);
        return;
      case 0xad: // disable keyboard interface
        c.commandByte |= CCB_KBD_DISABLED;
        break;
      case 0xae: // enable keyboard interface
        c.commandByte &= ~CCB_KBD_DISABLED;
        break;
      case 0xc0: // read input port
        this.reply(INPUT_PORT);
        return;
      case 0xd0: // read output port
        this.reply(this.outputPortValue());
        return;
      case 0xd1: // write output port
      case 0xd2: // write keyboard output buffer
      case 0xd3: // write aux output buffer
      case 0xd4: // write to aux device
        c.pendingCommand = command;
        return;
      case 0xdd: // disable A20 (HP Vectra)
        this.writeOutputPort(c.outputPort & ~OUT_A20);
        return;
      case 0xdf: // enable A20
        this.writeOutputPort(c.outputPort | OUT_A20);
        return;
      case 0xe0: // read test inputs
        this.reply(0x00);
        return;
      default:
        log.guest_errors({ command: '0x' + command.toString(16) }, 'i8042: unknown controller command');
        return;
    }
    this.updateIrqs();
    this.fillOutputBuffer();
  }

  // ---- port 0x60 ----

  /** Reads the output buffer (the last byte again when empty) and lets the next byte in. */
  private readData(): number {
    const c = this.controller;
    const value = c.output;
    c.outputFull = false;
    // The read drops IRQ 1/12 and a queued byte raises it again: a new edge for the PIC, as QEMU's ps2_read_data gives.
    this.updateIrqs();
    this.fillOutputBuffer();
    this.updateIrqs();
    return value;
  }

  private writeData(value: number): void {
    const c = this.controller;
    c.status &= ~STAT_CMD;
    const command = c.pendingCommand;
    c.pendingCommand = -1;
    switch (command) {
      case -1:
        // Writing to the keyboard re-enables its interface (QEMU does the same).
        c.commandByte &= ~CCB_KBD_DISABLED;
        this.keyboard.write(value);
        break;
      case 0x60:
        this.writeCommandByte(value);
        break;
      case 0xd1:
        this.writeOutputPort(value);
        break;
      case 0xd2: // as if the keyboard sent it, whatever the interface state
        this.queueFromController(value, 'keyboard');
        break;
      case 0xd3: // as if the mouse sent it (Linux's AUX_LOOP test)
        this.queueFromController(value, 'aux');
        break;
      case 0xd4:
        this.mouse.write(value);
        break;
      default: // writes to controller RAM bytes 1-31: not kept
        break;
    }
    this.fillOutputBuffer();
    this.updateIrqs();
  }

  private writeCommandByte(value: number): void {
    const c = this.controller;
    c.commandByte = value;
    if (value & CCB_SYS) c.status |= STAT_SYS;
    else c.status &= ~STAT_SYS;
  }

  /** Output port: bit 1 drives A20, bit 0 low resets the CPU. */
  private writeOutputPort(value: number): void {
    const c = this.controller;
    c.outputPort = value;
    this.a20.set((value & OUT_A20) !== 0);
    if (!(value & OUT_RESET)) this.lifecycle.request({ kind: 'reset', cause: 'i8042 output port reset' });
  }

  private outputPortValue(): number {
    const c = this.controller;
    let value = c.outputPort & ~(OUT_OBF | OUT_AUX_OBF);
    if (c.outputFull) value |= c.outputSource === 'aux' ? OUT_AUX_OBF : OUT_OBF;
    return value;
  }

  // ---- output buffer and interrupts ----

  private reply(value: number): void {
    this.queueFromController(value, 'controller');
    this.fillOutputBuffer();
    this.updateIrqs();
  }

  private queueFromController(value: number, source: OutputSource): void {
    const queue = this.controller.controllerQueue;
    if (queue.length < CONTROLLER_QUEUE_LIMIT) queue.push({ value, source });
  }

  /** Moves the next byte into an empty output buffer: controller replies first, then keyboard, then aux. */
  private fillOutputBuffer(): void {
    const c = this.controller;
    if (c.outputFull) return;
    const fromController = c.controllerQueue.shift();
    if (fromController) {
      this.load(fromController.value, fromController.source);
      return;
    }
    if (!(c.commandByte & CCB_KBD_DISABLED)) {
      const key = this.nextKeyboardByte();
      if (key !== undefined) {
        this.load(key, 'keyboard');
        return;
      }
    }
    if (!(c.commandByte & CCB_AUX_DISABLED)) {
      const aux = this.mouse.state.queue.shift();
      if (aux !== undefined) this.load(aux, 'aux');
    }
  }

  /** The next keyboard byte, translated to set 1 when the command byte asks: 0xF0 folds into bit 7 of the next byte. */
  private nextKeyboardByte(): number | undefined {
    const c = this.controller;
    const queue = this.keyboard.state.queue;
    if (!(c.commandByte & CCB_TRANSLATE)) return queue.shift();
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
      if (b === 0xf0) {
        c.translateBreak = true;
        continue;
      }
      const translated = TRANSLATION[b]! | (c.translateBreak ? 0x80 : 0);
      c.translateBreak = false;
      return translated;
    }
    return undefined;
  }

  private load(value: number, source: OutputSource): void {
    const c = this.controller;
    c.output = value;
    c.outputFull = true;
    c.outputSource = source;
  }

  private updateIrqs(): void {
    const c = this.controller;
    const full = c.outputFull;
    this.irq1.set(full && c.outputSource !== 'aux' && (c.commandByte & CCB_KBD_INT) !== 0);
    this.irq12.set(full && c.outputSource === 'aux' && (c.commandByte & CCB_AUX_INT) !== 0);
  }
}
