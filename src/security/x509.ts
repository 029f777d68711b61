/**
 * @peculiar/x509, loaded after the Reflect metadata polyfill it needs (its tsyringe dependency throws at
 * load time without one). Every file in this module imports the library through here.
 */
// tsyringe (under @peculiar/x509) needs the Reflect metadata API at load time.
import 'reflect-metadata';

export * from '@peculiar/x509';
